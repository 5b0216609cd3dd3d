using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>
/// The stream in pgoutput's binary format (PostgreSQL 14+), end to end: built-in types and domains over them travel in
/// their binary form; a task with a type whose binary form holds server-local OIDs (or with an array column) streams in
/// text and says why; a table of such a type added to a binary stream restarts it in text.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BinaryStreamTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private const string BuiltInTypes = """
        CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
        CREATE TABLE typed (
            id bigserial PRIMARY KEY,
            small smallint, big bigint, num numeric(20,6), num_nan numeric, real_v real, dbl double precision, money_v money,
            ch char(5), vch varchar(40), txt text, bytes bytea,
            d date, t time, ttz time with time zone, ts timestamp, tstz timestamptz, iv interval, flag boolean,
            pt point, ln line, lseg_v lseg, bx box, pth path, poly polygon, circ circle,
            ip inet, net cidr, mac macaddr, mac8 macaddr8, bits bit(8), vbits bit varying(16),
            tsv tsvector, tsq tsquery, uid uuid, doc xml, js json, jsb jsonb,
            pos positive_int, r int4range, dr daterange, tr tstzrange, big_text text
        );
        ALTER TABLE typed ALTER COLUMN big_text SET STORAGE EXTERNAL;
        CREATE TABLE logbook (at timestamptz, line text, amount numeric, tag uuid);
        ALTER TABLE logbook REPLICA IDENTITY FULL;
        INSERT INTO logbook SELECT '2024-01-01'::timestamptz + g * interval '1 minute', 'line ' || (g % 5), g / 3.0, md5(g::text)::uuid FROM generate_series(1, 50) g;
        CREATE TABLE people (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
        INSERT INTO people (name) SELECT 'p' || g FROM generate_series(1, 10) g;
        CREATE TABLE blobs (id int PRIMARY KEY, data bytea, note text);
        """;

    private static string Rows(string range) => $$"""
        INSERT INTO typed (small, big, num, num_nan, real_v, dbl, money_v, ch, vch, txt, bytes, d, t, ttz, ts, tstz, iv, flag,
            pt, ln, lseg_v, bx, pth, poly, circ, ip, net, mac, mac8, bits, vbits, tsv, tsq, uid, doc, js, jsb, pos, r, dr, tr, big_text)
        SELECT g::smallint, g * 1000000000::bigint, g / 7.0, CASE WHEN g % 3 = 0 THEN 'NaN'::numeric ELSE -g END,
            CASE g % 4 WHEN 0 THEN 'Infinity'::real WHEN 1 THEN '-Infinity'::real WHEN 2 THEN 'NaN'::real ELSE g / 3.0 END,
            g / 9.0, g * 1.25, 'c' || g, 'varchar ü ' || g, CASE WHEN g % 5 = 0 THEN '' ELSE repeat('text ', g % 50) END,
            decode(md5(g::text), 'hex'), '2024-01-01'::date + g, '12:34:56.789'::time, '12:34:56+02'::timetz,
            '2024-02-29 23:59:59.123456'::timestamp + g * interval '1 hour', CASE WHEN g % 7 = 0 THEN 'infinity'::timestamptz ELSE '1999-12-31 23:00:00+00'::timestamptz + g * interval '1 second' END,
            g * interval '1 day 2 hours', g % 2 = 0,
            point(g, g), line(point(0,0), point(1, g + 1)), lseg(point(0,0), point(g,g)), box(point(0,0), point(g,g)),
            path(polygon '((0,0),(1,1),(2,0))'), polygon '((0,0),(1,1),(2,0))', circle(point(g,g), 2),
            ('10.0.0.' || g % 250)::inet, '10.1.0.0/16'::cidr, '08:00:2b:01:02:03'::macaddr, '08:00:2b:01:02:03:04:05'::macaddr8,
            (g % 256)::bit(8), B'1011', to_tsvector('english', 'the quick brown fox ' || g), to_tsquery('fox & quick'),
            md5(g::text)::uuid, ('<a n="' || g || '">x</a>')::xml, ('{"g": ' || g || '}')::json, ('{"g": ' || g || ', "nested": [1, 2]}')::jsonb,
            g, int4range(g, g + 10), daterange('2024-01-01', '2024-12-31'), tstzrange('2024-01-01 00:00+00', '2024-01-02 00:00+00'),
            CASE WHEN g % 10 = 0 THEN repeat('toast ', 2000) END
        FROM generate_series({{range}}) g;
        """;

    private IEnumerable<string> Messages(string task) => _temp.Store.ReadEvents(task).Select(e => e.Event.Message);

    /// <summary>The start events of the task's streams, oldest first.</summary>
    private IEnumerable<string> Starts(string task) => Messages(task).Where(m => m.StartsWith("Streaming from slot", StringComparison.Ordinal));

    /// <summary>Adds a table to the running task and waits until its table sync has handed it back to the stream.</summary>
    private async Task AddTableAsync(TaskService service, string task, string table)
    {
        service.Update(task, new TaskChanges { AddTables = [table] });
        await TestTasks.WaitUntilAsync(() => Messages(task).Any(m => m.Contains($"{table} copied again and back in the stream", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(90), () => "the added table to join the stream: " + string.Join(" | ", Messages(task)));
    }

    private Task StreamingStartedAsync(string task) =>
        TestTasks.WaitUntilAsync(() => Starts(task).Any(), TimeSpan.FromSeconds(60),
            () => "the stream to start: " + string.Join(" | ", Messages(task)));

    /// <summary>
    /// Creates a FullIncremental task (on <paramref name="tables"/>, or the whole database), starts it, waits for its
    /// stream and checks that the stream's start event says <paramref name="format"/>.
    /// </summary>
    private async Task<StreamingHarness> StreamingAsync(TaskService service, DatabasePair db, string task, string format, params string[] tables)
    {
        service.Create(task, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Selection = tables.Length == 0 ? d.Selection : d.Selection with { IncludeTables = tables } });
        var harness = new StreamingHarness(service, db, task);
        await harness.StartAsync();
        await StreamingStartedAsync(task);
        Assert.Contains(Starts(task), m => m.Contains(format, StringComparison.Ordinal));
        return harness;
    }

    [Fact]
    public async Task BuiltInTypesAndDomainsStreamInBinaryFormatAndArriveEqual()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(BuiltInTypes + Rows("1, 100"));
        var service = new TaskService(_temp.Store);
        await using var harness = await StreamingAsync(service, db, "binary-1", " in binary format;");

        await db.OnSourceAsync(Rows("101, 160") + """
            INSERT INTO typed (txt) VALUES (NULL);
            UPDATE typed SET num = num + 1, tstz = '-infinity', js = NULL, txt = 'updated ' || id WHERE id <= 30;
            UPDATE typed SET id = id + 100000 WHERE id = 31;
            UPDATE typed SET id = id + 100000, small = 0 WHERE id = 40;
            DELETE FROM typed WHERE id BETWEEN 41 AND 45;
            UPDATE logbook SET line = 'changed', amount = amount * 2 WHERE line = 'line 1';
            DELETE FROM logbook WHERE line = 'line 2';
            INSERT INTO logbook VALUES ('2030-01-01', 'line 2', NULL, NULL), ('2030-01-01', 'line 2', NULL, NULL);
            INSERT INTO people (name) VALUES ('identity always');
            UPDATE people SET name = 'renamed' WHERE id = 3;
            DELETE FROM people WHERE id = 4;
            UPDATE typed SET bytes = decode(repeat('ab', 1000000), 'hex'), txt = repeat('ü', 300000) WHERE id IN (5, 6);
            """);
        // Large values set-wise: one insert and one update of several rows, each column one array parameter of megabytes.
        await db.OnSourceAsync("BEGIN; INSERT INTO blobs SELECT g, decode(repeat(to_hex(g + 16), 700000), 'hex'), repeat('n', g * 100000) FROM generate_series(1, 6) g; " +
            "UPDATE blobs SET data = data || '\\x00'::bytea, note = NULL WHERE id > 3; COMMIT;");
        // One large transaction (it streams while in progress, binary values included) and many small ones.
        await db.OnSourceAsync("BEGIN; " + Rows("2000, 6000") + " UPDATE typed SET vch = 'bulk' WHERE id >= 2000; COMMIT;");
        for (var i = 0; i < 30; i++) await db.OnSourceAsync($"UPDATE typed SET dbl = {i}.5, uid = gen_random_uuid() WHERE id = {60 + i}");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        // Unchanged TOAST values were kept, not nulled, and the domain's values arrived.
        Assert.Equal(12000, await db.DestinationScalarAsync<int>("SELECT length(big_text) FROM typed WHERE id = 10"));
        // Values larger than the driver's write buffer went through whole, row by row and set-wise.
        Assert.Equal(1000000, await db.DestinationScalarAsync<int>("SELECT length(bytes) FROM typed WHERE id = 6"));
        Assert.Equal("700000 700000 700000 700001 700001 700001", await db.DestinationScalarAsync<string>("SELECT string_agg(length(data)::text, ' ' ORDER BY id) FROM blobs"));
        Assert.Equal(await db.SourceScalarAsync<long>("SELECT sum(pos) FROM typed"), await db.DestinationScalarAsync<long>("SELECT sum(pos) FROM typed"));

        var exit = await harness.StopAsync();
        Assert.True(exit == 0, service.Get("binary-1").State.LastError?.Message);
        Assert.DoesNotContain(Messages("binary-1"), m => m.Contains("restarts in text format", StringComparison.Ordinal));
    }

    /// <summary>
    /// Enums travel in their binary form (the label), sent as the destination's enum of the same name, whose OID there
    /// differs from the source's: in a mapped schema, through a domain, in a primary key (set-wise updates and deletes
    /// by key), in a keyless table's identity (row by row), and in a conflict event's row image.
    /// </summary>
    [Fact]
    public async Task EnumsStreamInBinaryFormAsTheDestinationsEnumOfTheSameName()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        // Types made on the destination first, so that its enums do not get the source's OIDs by chance.
        await db.OnDestinationAsync("CREATE TYPE filler_one AS ENUM ('x'); CREATE TYPE filler_two AS ENUM ('y'); CREATE TYPE filler_three AS ENUM ('z');");
        await db.OnSourceAsync("""
            CREATE SCHEMA app;
            CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy', 'très ü');
            CREATE DOMAIN app.good_mood AS app.mood CHECK (VALUE <> 'sad');
            CREATE TABLE app.diary (id int PRIMARY KEY, feeling app.mood, better app.good_mood, note text);
            INSERT INTO app.diary SELECT g, 'ok', 'happy', 'n' || g FROM generate_series(1, 20) g;
            CREATE TABLE app.levels (feeling app.mood, n int, label text, PRIMARY KEY (feeling, n));
            INSERT INTO app.levels SELECT m, g, 'l' || g FROM unnest(enum_range(NULL::app.mood)) m, generate_series(1, 5) g;
            CREATE TABLE app.moodlog (at int, feeling app.mood);
            ALTER TABLE app.moodlog REPLICA IDENTITY FULL;
            INSERT INTO app.moodlog VALUES (1, 'sad'), (2, 'ok'), (2, 'ok');
            """);
        var service = new TaskService(_temp.Store);
        service.Create("binary-enum", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => new TaskChanges
        {
            Mode = SyncTaskMode.FullIncremental, IncludeSchemas = ["app"], SchemaMapping = new Dictionary<string, string> { ["app"] = "app_copy" },
            ConflictPolicy = ConflictPolicy.Overwrite,
        }.ApplyTo(d, _temp.Store.Secrets));
        await using var harness = new StreamingHarness(service, db, "binary-enum");
        await harness.StartAsync();
        await StreamingStartedAsync("binary-enum");
        Assert.Contains(Messages("binary-enum"), m => m.StartsWith("Streaming from slot", StringComparison.Ordinal) && m.Contains(" in binary format;", StringComparison.Ordinal));
        Assert.NotEqual(await db.SourceScalarAsync<long>("SELECT 'app.mood'::regtype::oid::bigint"), await db.DestinationScalarAsync<long>("SELECT 'app_copy.mood'::regtype::oid::bigint"));

        // A destination row the stream's insert runs into: its conflict event shows the key's label.
        await db.OnDestinationAsync("INSERT INTO app_copy.levels VALUES ('très ü', 200, 'in the way')");
        await db.OnSourceAsync("""
            INSERT INTO app.diary VALUES (100, 'très ü', 'très ü', 'new'), (101, NULL, NULL, 'nulls');
            INSERT INTO app.levels VALUES ('très ü', 200, 'from the source');
            UPDATE app.diary SET feeling = 'happy', better = 'ok' WHERE id <= 10;
            UPDATE app.diary SET id = id + 1000, feeling = 'sad' WHERE id = 11;
            DELETE FROM app.diary WHERE id BETWEEN 12 AND 14;
            UPDATE app.levels SET label = 'relabelled' WHERE n <= 2;
            UPDATE app.levels SET feeling = 'très ü', n = n + 100 WHERE feeling = 'sad' AND n = 3;
            DELETE FROM app.levels WHERE n = 4;
            UPDATE app.moodlog SET feeling = 'happy' WHERE at = 1;
            DELETE FROM app.moodlog WHERE ctid = (SELECT min(ctid) FROM app.moodlog WHERE at = 2);
            """);
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        Assert.Equal("happy:ok", await db.DestinationScalarAsync<string>("SELECT feeling || ':' || better FROM app_copy.diary WHERE id = 1"));
        Assert.Equal("très ü", await db.DestinationScalarAsync<string>("SELECT feeling::text FROM app_copy.diary WHERE id = 100"));
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM app_copy.moodlog WHERE at = 2"));
        var conflict = _temp.Store.ReadEvents("binary-enum").Select(e => e.Event).Single(e => e.Kind == Sync.SyncEventKind.Conflict);
        Assert.Equal("(feeling=très ü, n=200)", conflict.Data!["key"]);

        Assert.Equal(0, await harness.StopAsync());
        Assert.DoesNotContain(Messages("binary-enum"), m => m.Contains("restarts in text format", StringComparison.Ordinal));
    }

    /// <summary>
    /// The task's stream format Text keeps a stream whose types could go in binary in text, and its start event says
    /// why; set back to Auto while the task is paused, the resumed stream runs in binary.
    /// </summary>
    [Fact]
    public async Task TheTasksStreamFormatTextKeepsTheStreamInTextUntilItIsSetBackToAuto()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE ledger (id int PRIMARY KEY, amount numeric, noted timestamptz); INSERT INTO ledger SELECT g, g * 1.5, '2024-01-01' FROM generate_series(1, 20) g;");
        var service = new TaskService(_temp.Store);
        service.Create("format-text", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => new TaskChanges { Mode = SyncTaskMode.FullIncremental, StreamFormat = Sync.StreamFormatOption.Text }.ApplyTo(d, _temp.Store.Secrets));
        await using (var harness = new StreamingHarness(service, db, "format-text"))
        {
            await harness.StartAsync();
            await StreamingStartedAsync("format-text");
            Assert.Contains(" in text format (the task's stream format is Text (Set-SyncTask -StreamFormat Auto", Assert.Single(Starts("format-text")), StringComparison.Ordinal);
            await db.OnSourceAsync("UPDATE ledger SET amount = amount + 1, noted = now(); INSERT INTO ledger VALUES (21, 0.5, now())");
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            Assert.Equal(0, await harness.StopAsync(ControlAction.Pause));
        }

        service.Update("format-text", new TaskChanges { StreamFormat = Sync.StreamFormatOption.Auto });
        Assert.Equal(Sync.StreamFormatOption.Auto, service.Get("format-text").Definition.Options.StreamFormat);
        await using (var harness = new StreamingHarness(service, db, "format-text"))
        {
            await harness.StartAsync();
            await TestTasks.WaitUntilAsync(() => Starts("format-text").Count() == 2, TimeSpan.FromSeconds(60), () => "the resumed stream to start: " + string.Join(" | ", Messages("format-text")));
            Assert.Contains(" in binary format;", Starts("format-text").Last(), StringComparison.Ordinal);
            await db.OnSourceAsync("UPDATE ledger SET amount = -amount WHERE id <= 10; DELETE FROM ledger WHERE id = 21");
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            Assert.Equal(0, await harness.StopAsync());
        }
    }

    /// <summary>
    /// A table of an enum added to a binary stream: its enum is made on the destination when the table is copied, after
    /// the stream looked the enums up. The stream restarts once to look it up and goes on in binary form.
    /// </summary>
    [Fact]
    public async Task ATableOfAnEnumAddedToABinaryStreamRestartsItOnceAndItStaysInBinaryForm()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE ledger (id int PRIMARY KEY, amount numeric);
            INSERT INTO ledger SELECT g, g * 1.5 FROM generate_series(1, 20) g;
            CREATE TABLE levels (id int PRIMARY KEY, feeling mood);
            INSERT INTO levels SELECT g, 'ok' FROM generate_series(1, 20) g;
            """);
        var service = new TaskService(_temp.Store);
        await using var harness = await StreamingAsync(service, db, "binary-3", " in binary format;", "public.ledger");
        await AddTableAsync(service, "binary-3", "public.levels");
        await db.OnSourceAsync("INSERT INTO levels VALUES (100, 'happy'); UPDATE levels SET feeling = 'sad' WHERE id <= 5; UPDATE ledger SET amount = 0 WHERE id = 1");
        await TestTasks.WaitUntilAsync(() => Starts("binary-3").Count() == 2, TimeSpan.FromSeconds(60), () => "the stream to start again: " + string.Join(" | ", Messages("binary-3")));
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        Assert.Contains(" in binary format;", Starts("binary-3").Last(), StringComparison.Ordinal);
        Assert.Contains(Messages("binary-3"), m => m.Contains("The stream restarts to look up the destination's enum for column feeling of public.levels (type public.mood)", StringComparison.Ordinal));
        Assert.DoesNotContain(Messages("binary-3"), m => m.Contains("restarts in text format", StringComparison.Ordinal));
        Assert.Equal(0, await harness.StopAsync());
    }

    [Fact]
    public async Task ATypeWhoseBinaryFormHoldsOidsKeepsTheStreamInTextWhateverTheSourcesSettingsAndATableOfOneAddedLaterRestartsIt()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE accounts (id int PRIMARY KEY, balance numeric, at timestamptz);
            INSERT INTO accounts SELECT g, g, '2024-01-01' FROM generate_series(1, 20) g;
            CREATE TABLE tagged (id int PRIMARY KEY, tags text[]);
            INSERT INTO tagged VALUES (1, NULL), (2, ARRAY['a', NULL]);
            CREATE TABLE ledger (id int PRIMARY KEY, amount numeric, noted timestamptz);
            INSERT INTO ledger SELECT g, g * 1.5, '2024-01-01' FROM generate_series(1, 20) g;
            CREATE TABLE moods (id int PRIMARY KEY, feeling mood, feelings mood[], owner regclass);
            INSERT INTO moods SELECT g, 'ok', ARRAY['sad', 'happy']::mood[], 'accounts' FROM generate_series(1, 20) g;
            CREATE TABLE owners (id int PRIMARY KEY, owner regclass, since date, term interval, ratio float8);
            INSERT INTO owners VALUES (1, 'accounts', '2024-01-02', '-1 day 02:00:00', 0.1), (2, 'owners', NULL, NULL, NULL);
            """);
        // Settings under which the source writes text that reads differently elsewhere: the stream sets its own.
        await db.OnSourceAsync($"ALTER DATABASE \"{db.Name}\" SET DateStyle = 'SQL, DMY'; ALTER DATABASE \"{db.Name}\" SET IntervalStyle = 'sql_standard'; ALTER DATABASE \"{db.Name}\" SET extra_float_digits = 0");
        await db.OnDestinationAsync($"ALTER DATABASE \"{db.Name}\" SET DateStyle = 'SQL, MDY'; ALTER DATABASE \"{db.Name}\" SET IntervalStyle = 'sql_standard'");
        var service = new TaskService(_temp.Store);

        // A regclass holds an OID in its binary form: that task streams in text, and its values arrive as names.
        await using (var harness = await StreamingAsync(service, db, "text-1",
                         " in text format (column owner of public.owners has type regclass, which the stream does not send in binary form);", "public.owners", "public.accounts"))
        {
            await db.OnSourceAsync("INSERT INTO owners VALUES (3, 'accounts', '2024-03-04', 'P-3DT4H5M6S', 1.0 / 3); UPDATE owners SET term = term - interval '1 hour', since = since + 1 WHERE id = 1; UPDATE accounts SET balance = 0 WHERE id = 1");
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            // The copy carried the name too, not the source's OID.
            Assert.Equal("accounts owners accounts", await db.DestinationScalarAsync<string>("SELECT string_agg(owner::text, ' ' ORDER BY id) FROM owners"));
            Assert.Equal("2024-01-03 -1 days +01:00:00|2024-03-04 -3 days +04:05:06",
                await db.DestinationScalarAsync<string>("SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SELECT string_agg(since || ' ' || term, '|' ORDER BY id) FROM owners WHERE since IS NOT NULL"));
            Assert.Equal(1.0 / 3, await db.DestinationScalarAsync<double>("SELECT ratio FROM owners WHERE id = 3"));
            Assert.Equal(0, await harness.StopAsync());
        }

        // An array column keeps its task in text: set-wise apply of binary arrays would need arrays of arrays.
        await using (var harness = await StreamingAsync(service, db, "text-2",
                         " in text format (column tags of public.tagged has type text[], which the stream does not send in binary form);", "public.tagged"))
        {
            await db.OnSourceAsync("INSERT INTO tagged VALUES (3, NULL), (4, ARRAY['b']), (5, '{}'); UPDATE tagged SET tags = ARRAY['c', 'd'] WHERE id IN (1, 2)");
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            Assert.Equal(0, await harness.StopAsync());
        }

        // A binary stream that is given a table of an enum: the stream restarts in text once that table's rows come.
        await using (var harness = await StreamingAsync(service, db, "binary-2", " in binary format;", "public.ledger"))
        {
            await db.OnSourceAsync("UPDATE ledger SET amount = amount + 1");
            await harness.CatchUpAsync();
            await AddTableAsync(service, "binary-2", "public.moods");
            await db.OnSourceAsync("INSERT INTO moods VALUES (100, 'happy', ARRAY['ok']::mood[], 'moods'); UPDATE moods SET feeling = 'sad' WHERE id = 1; UPDATE ledger SET amount = -1 WHERE id = 2");
            await TestTasks.WaitUntilAsync(() => Messages("binary-2").Any(m => m.Contains(" in text format (", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(60), () => "the stream to restart in text format: " + string.Join(" | ", Messages("binary-2")));
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            // The enum column came first: the stream restarted to look its enum up, and the array column then kept it in text.
            Assert.Contains(Messages("binary-2"), m => m.Contains("The stream restarts to look up the destination's enum for column feeling of public.moods (type public.mood)", StringComparison.Ordinal));
            Assert.Equal(0, await harness.StopAsync());
        }
    }
}
