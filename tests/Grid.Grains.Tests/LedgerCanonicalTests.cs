namespace Grid.Grains.Tests;

/// <summary>
/// The canonical bytes and hash of ledger entries, held to vectors computed once: the encoding is what every stored
/// ledger and every <c>grid ledger verify</c> relies on, so a faster encoder must produce it byte for byte.
/// </summary>
public sealed class LedgerCanonicalTests
{
    private static readonly DateTimeOffset At = new DateTimeOffset(2026, 11, 28, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567);

    public static TheoryData<string, LedgerAppend, string> Vectors => new()
    {
        {
            "placed, details, no amount, no postings",
            new LedgerAppend("reservation:7:placed:1", "reservation.placed", "twin:3", "reservation:7", null, [],
                """{"reservationId":7,"twinId":3,"nodeId":11,"farmId":2,"epoch":1,"publicIps":0,"pricePerHour":120,"resources":{"cru":1,"mru":1073741824,"sru":10737418240,"hru":0,"ipv4":0},"ips":[]}"""),
            "33c0018f151bec862fd434b44896279c05a6ce61d7297af04aa4276c14bdafd1/894e4d31d03d18dab299c7f8bd0e3a53d92909acf3bd48b340f0dcda509fc1e9"
        },
        {
            "bill with postings and a non-ASCII actor",
            new LedgerAppend("bill:42:3", "bill", "grid·billing", "reservation:42", 1500,
                [new Posting(5, -1500), new Posting(9, 1350), new Posting(Money.GridAccountId, 150)]),
            "8ca869bb50cabbeffc2dc64b9830729d1f075b97d5ca42731f461c0e99597894/a33298e8e91d748d008ae05d638ff812c71c2e9ab3756c2207803d4074c88fcc"
        },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void HashesMatchTheRecordedVectors(string what, LedgerAppend append, string expected)
    {
        var first = LedgerCanonical.Link(1, LedgerCanonical.GenesisHash, At, append);
        var second = LedgerCanonical.Link(2, first.Hash, At, append);

        Assert.True(expected == $"{first.Hash}/{second.Hash}", $"{what}: {first.Hash}/{second.Hash}");
        Assert.Equal(second.Hash, LedgerCanonical.Hash(second));
    }
}
