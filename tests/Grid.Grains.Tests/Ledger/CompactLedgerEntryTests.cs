using System.Collections.Immutable;
using Grid.Ledger;

namespace Grid.Grains.Tests.Ledger;

/// <summary>The memory ledger keeps entries compact and gives back exactly what was appended.</summary>
public sealed class CompactLedgerEntryTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 12, 0, 0, TimeSpan.FromHours(2));

    [Fact]
    public async Task TheStoreAnswersEveryEntryAsAppendedWhateverItsHashDetailsAndChain()
    {
        var hash1 = new string('a', 63) + "1";
        var hash2 = Convert.ToHexStringLower(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        LedgerEntry[] entries =
        [
            Entry(1, "", hash1, """{"reservationId":1,"name":"Zürich ☃"}"""),
            Entry(2, hash1, hash2, null),
            // Not the hash before it, and a hash that is not lowercase hex: both kept as they were.
            Entry(3, "not-the-previous", "ABCDEF", """{"x":1}"""),
            Entry(4, "ABCDEF", hash1, "{}") with { Postings = [new Posting(7, -5), new Posting(0, 5)], Amount = 5 },
        ];
        var store = new MemoryLedgerStore();
        await store.AppendAsync(entries);

        Assert.Equal(entries, await store.ReadAsync(1, 10));
        Assert.Equal(entries[2..3], await store.ReadAsync(3, 1));
        Assert.Equal(new LedgerHead(4, hash1), await store.ReadHeadAsync());
        Assert.Equal([entries[3]], await store.FindAsync(["e4"]));
        Assert.Equal(entries[3], Assert.Single(await store.ReadAccountAsync(7, 0, 10)).Entry);
    }

    [Fact]
    public void AnExpandedEntryEqualsTheOriginalAndRepeatedTextsAreShared()
    {
        var pool = new StringPool();
        var first = CompactLedgerEntry.Of(Entry(1, "", "00ff", "{}"), null, pool);
        var second = Entry(2, "00ff", "ff00", """{"a":"b"}""") with { Actor = new string("twin:1".ToCharArray()) };
        var kept = CompactLedgerEntry.Of(second, first, pool);

        var expanded = kept.Expand(first);

        Assert.Equal(second, expanded);
        Assert.Same(first.Expand(null).Actor, expanded.Actor);
    }

    [Fact]
    public void APoolPastItsCapacityKeepsNewTextsAsTheyCome()
    {
        var pool = new StringPool(capacity: 1);
        var a = pool.Share(new string('a', 3));
        var b = new string('b', 3);

        Assert.Same(a, pool.Share(new string('a', 3)));
        Assert.Same(b, pool.Share(b));
        Assert.NotSame(b, pool.Share(new string('b', 3)));
    }

    private static LedgerEntry Entry(long seq, string prevHash, string hash, string? details) =>
        new(seq, At, "bill", $"e{seq}", "twin:1", $"reservation:{seq}", null, ImmutableArray<Posting>.Empty, details, prevHash, hash);
}
