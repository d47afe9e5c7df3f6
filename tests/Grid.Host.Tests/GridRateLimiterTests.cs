using System.Net;
using Grid.Host.Security;
using Microsoft.Extensions.Time.Testing;
using static Grid.Host.Security.GridRateLimiter;

namespace Grid.Host.Tests;

/// <summary>The grid's token buckets, on a test clock: refilled by use, not by a timer.</summary>
public sealed class GridRateLimiterTests
{
    private static readonly Caller Node = new(CallerKind.Node, 7, null);
    private static readonly Caller Failures = new(CallerKind.FailedAuthentication, 0, IPAddress.Loopback);

    [Fact]
    public void ABurstIsServedThenRefusedWithTheTimeUntilTheNextTokenAndTheRateRefillsIt()
    {
        var clock = new FakeTimeProvider();
        var limiter = new GridRateLimiter(clock);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(limiter.TryAcquire(Node, 2, 5, out _), $"request {i} of the burst");
        }

        Assert.False(limiter.TryAcquire(Node, 2, 5, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(0.5), wait);

        // Half a token later: still refused, with the other half to wait.
        clock.Advance(TimeSpan.FromSeconds(0.25));
        Assert.False(limiter.TryAcquire(Node, 2, 5, out wait));
        Assert.Equal(TimeSpan.FromSeconds(0.25), wait);

        // One token at 2/s after half a second in all; a second of quiet gives two more, never beyond the burst.
        clock.Advance(TimeSpan.FromSeconds(0.25));
        Assert.True(limiter.TryAcquire(Node, 2, 5, out _));
        Assert.False(limiter.TryAcquire(Node, 2, 5, out _));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire(Node, 2, 5, out _));
        Assert.True(limiter.TryAcquire(Node, 2, 5, out _));
        Assert.False(limiter.TryAcquire(Node, 2, 5, out _));
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(5, Enumerable.Range(0, 10).Count(i => limiter.TryAcquire(Node, 2, 5, out _)));
    }

    [Fact]
    public void AskingWhetherABucketIsEmptyTakesNothingAndMakesNoBucket()
    {
        var clock = new FakeTimeProvider();
        var limiter = new GridRateLimiter(clock);

        // A caller nothing was taken from has no bucket, and asking makes none (callers that succeed never get one).
        Assert.False(limiter.IsEmpty(Failures, 1, 2, out _));
        Assert.Equal(0, limiter.Count);

        Assert.True(limiter.TryAcquire(Failures, 1, 2, out _));
        Assert.False(limiter.IsEmpty(Failures, 1, 2, out _));
        Assert.False(limiter.IsEmpty(Failures, 1, 2, out _));
        Assert.True(limiter.TryAcquire(Failures, 1, 2, out _));
        Assert.True(limiter.IsEmpty(Failures, 1, 2, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(1), wait);

        // Refilled by the rate as for a take; the failures of another address are its own.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(limiter.IsEmpty(Failures, 1, 2, out _));
        Assert.False(limiter.IsEmpty(Failures with { Address = IPAddress.IPv6Loopback }, 1, 2, out _));
        Assert.True(limiter.TryAcquire(Failures, 1, 2, out _));
        Assert.True(limiter.IsEmpty(Failures, 1, 2, out _));
    }

    [Fact]
    public void ARateBelowOneASecondRefillsByItsShareAndItsBucketIsKeptUntilFull()
    {
        var clock = new FakeTimeProvider();
        var limiter = new GridRateLimiter(clock);

        // 6 a minute: a token every 10 s.
        Assert.True(limiter.TryAcquire(Failures, 0.1, 2, out _));
        Assert.True(limiter.TryAcquire(Failures, 0.1, 2, out _));
        Assert.False(limiter.TryAcquire(Failures, 0.1, 2, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(10), wait);

        // Quiet past IdleAfter but not yet full (20 s from empty): the bucket is kept, not forgotten as full. 11 s gave
        // it 1.1 tokens: one more, then empty again for 9 s.
        clock.Advance(GridRateLimiter.IdleAfter + TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire(new Caller(CallerKind.Node, 1, null), 1, 1, out _), "a request that sweeps");
        Assert.Equal(2, limiter.Count);
        Assert.True(limiter.TryAcquire(Failures, 0.1, 2, out _));
        Assert.True(limiter.IsEmpty(Failures, 0.1, 2, out wait));
        Assert.Equal(9.0, wait.TotalSeconds, 3);
    }

    [Fact]
    public void CallersHaveBucketsOfTheirOwn()
    {
        var limiter = new GridRateLimiter(new FakeTimeProvider());
        Assert.True(limiter.TryAcquire(Node, 1, 1, out _));
        Assert.False(limiter.TryAcquire(Node, 1, 1, out _));

        // Another node, the same id as a twin, another address: each its own.
        Assert.True(limiter.TryAcquire(Node with { Id = 8 }, 1, 1, out _));
        Assert.True(limiter.TryAcquire(new Caller(CallerKind.Twin, 7, null), 1, 1, out _));
        Assert.True(limiter.TryAcquire(new Caller(CallerKind.Ip, 0, IPAddress.Loopback), 1, 1, out _));
        Assert.True(limiter.TryAcquire(new Caller(CallerKind.Ip, 0, IPAddress.IPv6Loopback), 1, 1, out _));
        Assert.False(limiter.TryAcquire(new Caller(CallerKind.Ip, 0, IPAddress.Parse("127.0.0.1")), 1, 1, out _));
    }

    [Fact]
    public void AnIpv6CallerCountsByItsSlash64AndAnIpv4MappedOneAsItsIpv4Address()
    {
        var limiter = new GridRateLimiter(new FakeTimeProvider());
        Caller From(CallerKind kind, string address) => new(kind, 0, IPAddress.Parse(address));

        // One site holds a /64: a new address in it (2^64 of them) brings no new bucket, for requests without
        // credentials and for failed authentications alike.
        foreach (var kind in new[] { CallerKind.Ip, CallerKind.FailedAuthentication })
        {
            Assert.True(limiter.TryAcquire(From(kind, "2001:db8:1:2::1"), 1, 1, out _), $"{kind}: the first address of the /64");
            Assert.False(limiter.TryAcquire(From(kind, "2001:db8:1:2:ffff:eeee:dddd:5"), 1, 1, out _), $"{kind}: another address of the same /64");
            Assert.False(limiter.TryAcquire(From(kind, "2001:db8:1:2::1") with { Address = IPAddress.Parse("2001:db8:1:2::7") }, 1, 1, out _),
                $"{kind}: an address set afterwards counts by its /64 too");
            Assert.True(limiter.TryAcquire(From(kind, "2001:db8:1:3::1"), 1, 1, out _), $"{kind}: the next /64 is another site");
        }

        Assert.Equal(IPAddress.Parse("2001:db8:1:2::"), From(CallerKind.Ip, "2001:db8:1:2:aaaa:bbbb:cccc:dddd").Address);

        // Except link-local addresses: every link has fe80::/64, so each such address counts by itself.
        Assert.True(limiter.TryAcquire(From(CallerKind.Ip, "fe80::1"), 1, 1, out _));
        Assert.True(limiter.TryAcquire(From(CallerKind.Ip, "fe80::2"), 1, 1, out _));
        Assert.False(limiter.TryAcquire(From(CallerKind.Ip, "fe80::1"), 1, 1, out _));
        Assert.Equal("fe80::2", Describe(From(CallerKind.Ip, "fe80::2").Address!));
        Assert.Equal("2001:db8:1:2::/64", Describe(From(CallerKind.Ip, "2001:db8:1:2::9").Address!));

        // A dual-stack listener sees an IPv4 caller as ::ffff:a.b.c.d: the same bucket as on an IPv4 listener. IPv4
        // addresses count one by one.
        Assert.True(limiter.TryAcquire(From(CallerKind.Ip, "::ffff:192.0.2.1"), 1, 1, out _));
        Assert.False(limiter.TryAcquire(From(CallerKind.Ip, "192.0.2.1"), 1, 1, out _));
        Assert.True(limiter.TryAcquire(From(CallerKind.Ip, "192.0.2.2"), 1, 1, out _));
        Assert.Equal("192.0.2.1", Describe(From(CallerKind.Ip, "::ffff:192.0.2.1").Address!));
    }

    [Fact]
    public void QuietCallersAreForgottenAndComeBackWithAFullBucket()
    {
        // Nothing refills a bucket between requests, so nothing needs to keep a quiet caller's: the buckets of 1,001
        // callers are dropped by the first request after they have been quiet for IdleAfter.
        var clock = new FakeTimeProvider();
        var limiter = new GridRateLimiter(clock);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(limiter.TryAcquire(new Caller(CallerKind.Node, 1_000 + i, null), 1, 2, out _));
        }

        Assert.True(limiter.TryAcquire(Node, 1, 2, out _));
        Assert.True(limiter.TryAcquire(Node, 1, 2, out _));
        Assert.False(limiter.TryAcquire(Node, 1, 2, out _));
        Assert.Equal(1_001, limiter.Count);

        clock.Advance(GridRateLimiter.IdleAfter);
        Assert.True(limiter.TryAcquire(new Caller(CallerKind.Node, 5_000, null), 1, 2, out _));
        Assert.Equal(1, limiter.Count);

        // Node 7 was drained when it went quiet; it comes back to a full bucket (as the rate would have made it).
        Assert.True(limiter.TryAcquire(Node, 1, 2, out _));
        Assert.True(limiter.TryAcquire(Node, 1, 2, out _));
        Assert.False(limiter.TryAcquire(Node, 1, 2, out _));
    }
}
