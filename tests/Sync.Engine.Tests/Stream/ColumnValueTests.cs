using System.Text;
using Sync.Engine.Stream;

namespace Sync.Engine.Tests.Stream;

/// <summary>
/// The identity form of values (<see cref="ColumnValue.AppendIdentity"/>), which the applier concatenates into a row's
/// identity within a batch (StatementBuilder.Key): two rows meet only when their values are equal.
/// </summary>
public sealed class ColumnValueTests
{
    public static TheoryData<string, ColumnValue[], ColumnValue[]> DifferentRows => new()
    {
        { "the separator the old form used, split differently", ["x\u001fy", "z"], ["x", "y\u001fz"] },
        { "a NULL and an empty string, swapped", [ColumnValue.Null, ""], ["", ColumnValue.Null] },
        { "a length-like text prefix", ["1:a", "b"], ["1", ":ab"] },
        { "text that reads like the binary marker", ["\u00010102"], [ColumnValue.FromBinary([1, 2])] },
        { "binary bytes split differently", [ColumnValue.FromBinary([1]), ColumnValue.FromBinary([2, 3])], [ColumnValue.FromBinary([1, 2]), ColumnValue.FromBinary([3])] },
        { "text against binary of the same characters", ["01"], [ColumnValue.FromBinary([0x01])] },
        { "one value against two that join to it", ["ab"], ["a", "b"] },
    };

    [Theory]
    [MemberData(nameof(DifferentRows))]
    public void RowsOfDifferentValuesHaveDifferentIdentities(string why, ColumnValue[] first, ColumnValue[] second)
    {
        Assert.False(Identity(first) == Identity(second), why);
    }

    [Fact]
    public void RowsOfEqualValuesHaveOneIdentity()
    {
        ColumnValue[] row = ["x\u001fy", ColumnValue.Null, ColumnValue.FromBinary([0, 255]), ""];
        ColumnValue[] same = [new string("x\u001fy".ToCharArray()), ColumnValue.Null, ColumnValue.FromBinary([0, 255]), string.Empty];
        Assert.Equal(Identity(row), Identity(same));
    }

    private static string Identity(ColumnValue[] values)
    {
        var sb = new StringBuilder();
        foreach (var v in values) v.AppendIdentity(sb);
        return sb.ToString();
    }
}
