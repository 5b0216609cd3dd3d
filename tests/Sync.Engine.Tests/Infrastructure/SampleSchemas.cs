namespace Sync.Engine.Tests.Infrastructure;

/// <summary>Source databases for the copy tests: every type the reference document lists, awkward names, partitions.</summary>
public static class SampleSchemas
{
    public const string AllTypes = """
        CREATE EXTENSION IF NOT EXISTS citext;
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TYPE address AS (street text, zip int, moods mood[]);
        CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
        CREATE TYPE floatrange AS RANGE (subtype = float8);
        CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
        CREATE TABLE every_type (
            id bigserial PRIMARY KEY,
            small smallint, big bigint, num numeric(20,6), num_nan numeric, real_v real, dbl double precision, money_v money,
            ch char(5), vch varchar(40), txt text, ci citext, bytes bytea,
            d date, t time, ttz time with time zone, ts timestamp, tstz timestamptz, iv interval,
            flag boolean, feeling mood, feelings mood[],
            pt point, ln line, lseg_v lseg, bx box, pth path, poly polygon, circ circle,
            ip inet, net cidr, mac macaddr, mac8 macaddr8,
            bits bit(8), vbits bit varying(16),
            tsv tsvector, tsq tsquery, uid uuid, doc xml, js json, jsb jsonb,
            ints int[], texts text[], matrix int[][],
            home address, pos positive_int, r int4range, dr daterange, tr tstzrange, fr floatrange,
            inv int DEFAULT nextval('invoice_no'),
            gen_total numeric GENERATED ALWAYS AS (num * 2) STORED
        );
        INSERT INTO every_type (small, big, num, num_nan, real_v, dbl, money_v, ch, vch, txt, ci, bytes, d, t, ttz, ts, tstz, iv, flag, feeling, feelings,
            pt, ln, lseg_v, bx, pth, poly, circ, ip, net, mac, mac8, bits, vbits, tsv, tsq, uid, doc, js, jsb, ints, texts, matrix, home, pos, r, dr, tr, fr)
        SELECT g::smallint, g * 1000000000::bigint, g / 7.0, CASE WHEN g % 3 = 0 THEN 'NaN'::numeric ELSE g END,
            CASE g % 4 WHEN 0 THEN 'Infinity'::real WHEN 1 THEN '-Infinity'::real WHEN 2 THEN 'NaN'::real ELSE g / 3.0 END,
            g / 9.0, g * 1.25, 'c' || g, 'varchar ' || g, CASE WHEN g % 5 = 0 THEN '' ELSE repeat('text ', g) END, 'CaSe' || g,
            decode(md5(g::text), 'hex'), '2024-01-01'::date + g, '12:34:56'::time, '12:34:56+02'::timetz,
            '2024-02-29 23:59:59.123456'::timestamp + g * interval '1 hour', 'infinity'::timestamptz, g * interval '1 day 2 hours',
            g % 2 = 0, (ARRAY['sad','ok','happy']::mood[])[1 + g % 3], ARRAY['ok','happy']::mood[],
            point(g, g), line(point(0,0), point(1, g + 1)), lseg(point(0,0), point(g,g)), box(point(0,0), point(g,g)),
            path(polygon '((0,0),(1,1),(2,0))'), polygon '((0,0),(1,1),(2,0))', circle(point(g,g), 2),
            ('10.0.0.' || g)::inet, '10.1.0.0/16'::cidr, '08:00:2b:01:02:03'::macaddr, '08:00:2b:01:02:03:04:05'::macaddr8,
            (g % 256)::bit(8), B'1011', to_tsvector('english', 'the quick brown fox ' || g), to_tsquery('fox & quick'),
            md5(g::text)::uuid, ('<a n="' || g || '">x</a>')::xml, ('{"g": ' || g || '}')::json, ('{"g": ' || g || ', "nested": [1, 2]}')::jsonb,
            ARRAY[g, g + 1, NULL], ARRAY['a', NULL, '', 'quote''s'], ARRAY[[1,2],[3,4]],
            ROW('Main St ' || g, 10000 + g, ARRAY['happy']::mood[])::address, g, int4range(g, g + 10), daterange('2024-01-01', '2024-12-31'),
            tstzrange('2024-01-01 00:00+00', '2024-01-02 00:00+00'), floatrange(1.5, 2.5)
        FROM generate_series(1, 200) g;
        INSERT INTO every_type (txt) VALUES (NULL);
        SELECT nextval('invoice_no') FROM generate_series(1, 3);

        CREATE SCHEMA "Sales Dept";
        CREATE TABLE "Sales Dept"."Order Lines" ("Line Id" int PRIMARY KEY, "Qty" int NOT NULL CHECK ("Qty" > 0), note text);
        INSERT INTO "Sales Dept"."Order Lines" SELECT g, g % 7 + 1, 'n' || g FROM generate_series(1, 50) g;
        CREATE INDEX "Qty Index" ON "Sales Dept"."Order Lines" ("Qty");
        CREATE TABLE "a""b; drop table every_type" (id int PRIMARY KEY, v text);
        INSERT INTO "a""b; drop table every_type" VALUES (1, 'survived');

        CREATE TABLE no_key (a int, b text);
        INSERT INTO no_key SELECT g % 10, 'dup' FROM generate_series(1, 100) g;

        CREATE TABLE measurements (id int, at date NOT NULL, value numeric, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO measurements SELECT g, '2024-06-01'::date + g, g * 1.5 FROM generate_series(1, 400) g;

        CREATE TABLE customers (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE);
        INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 30) g;
        CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers (id) ON DELETE CASCADE, total numeric CHECK (total >= 0));
        INSERT INTO orders (customer_id, total) SELECT 1 + g % 30, g FROM generate_series(1, 90) g;
        CREATE VIEW big_orders AS SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > 50;
        CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id;
        CREATE UNIQUE INDEX order_totals_customer ON order_totals (customer_id);
        """;
}
