using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Grid.Host.Security;

/// <summary>
/// Token buckets per caller (a twin, node or the operator by id, an anonymous caller by address), refilled when they
/// are used rather than by a timer: a bucket holds its tokens and the time it last counted them, and a request first
/// adds what the rate gave since. Nothing runs while callers are quiet.
/// </summary>
/// <remarks>
/// System.Threading.RateLimiting's partitioned limiter refills every partition on a timer of its own, whether the
/// caller sends anything or not: with every node a partition (each heartbeats, so none is ever idle long enough to be
/// dropped), 100k nodes cost 11–14 % of a core on that timer alone, measured. Here a bucket idle for
/// <see cref="IdleAfter"/>, or for as long as its rate takes to fill it if that is longer, is full again and is forgotten
/// by the next sweep (at most one per <see cref="IdleAfter"/>, made by the request that finds it due); a caller that
/// comes back gets a full bucket, as it would have had.
/// </remarks>
/// <param name="time">The clock buckets are refilled by.</param>
public sealed class GridRateLimiter(TimeProvider time)
{
    /// <summary>The slowest rate a bucket refills at: one request a day (a rate of 0 would never refill).</summary>
    private const double MinimumRate = 1.0 / 86_400;

    /// <summary>A bucket not used for this long is forgotten, unless its rate takes longer to fill it.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<Caller, Bucket> _buckets = new();
    private long _nextSweep = time.GetTimestamp() + Ticks(IdleAfter, time);

    /// <summary>Buckets held now (callers heard from within about <see cref="IdleAfter"/>).</summary>
    public int Count => _buckets.Count;

    /// <summary>
    /// Takes one request from <paramref name="caller"/>'s bucket, which sustains <paramref name="perSecond"/> requests a
    /// second and holds at most <paramref name="burst"/>. When it is empty: false, and how long until a token is there.
    /// </summary>
    public bool TryAcquire(Caller caller, double perSecond, int burst, out TimeSpan retryAfter)
    {
        var now = time.GetTimestamp();
        if (now >= Volatile.Read(ref _nextSweep))
        {
            Sweep(now);
        }

        (perSecond, burst) = (Math.Max(MinimumRate, perSecond), Math.Max(1, burst));
        var bucket = _buckets.GetOrAdd(caller, static (_, start) => new Bucket(start.Burst, start.Now), (Burst: burst, Now: now));
        return bucket.TryTake(now, perSecond, burst, time.TimestampFrequency, out retryAfter);
    }

    /// <summary>
    /// Whether <paramref name="caller"/>'s bucket is empty now, without taking from it: false when the caller has no
    /// bucket (nothing was taken from it lately), so asking makes nothing. When it is empty, how long until a token is there.
    /// </summary>
    public bool IsEmpty(Caller caller, double perSecond, int burst, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        return _buckets.TryGetValue(caller, out var bucket)
            && !bucket.Has(time.GetTimestamp(), Math.Max(MinimumRate, perSecond), Math.Max(1, burst), time.TimestampFrequency, out retryAfter);
    }

    /// <summary>Forgets the buckets nobody used since they became full again; one request does it when it is due.</summary>
    private void Sweep(long now)
    {
        var due = Volatile.Read(ref _nextSweep);
        var idle = Ticks(IdleAfter, time);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + idle, due) != due)
        {
            return;
        }

        foreach (var (caller, bucket) in _buckets)
        {
            if (now - bucket.LastUsed >= Math.Max(idle, bucket.FillTicks))
            {
                // Only if still that bucket (a caller that came back meanwhile made or used a new one).
                _buckets.TryRemove(new KeyValuePair<Caller, Bucket>(caller, bucket));
            }
        }
    }

    /// <summary>A wait as the whole seconds of a <c>Retry-After</c> header: rounded up, at least 1.</summary>
    public static int RetryAfterSeconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    private static long Ticks(TimeSpan span, TimeProvider time) => (long)(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>One caller's tokens, counted in millionths so a slow rate still refills a little at each request.</summary>
    private sealed class Bucket(int burst, long now)
    {
        private const long Unit = 1_000_000;
        private long _tokens = burst * Unit;
        private long _counted = now;

        private long _fillTicks;

        public long LastUsed => Volatile.Read(ref _counted);

        /// <summary>How long its rate takes to fill it from empty, in timestamp ticks.</summary>
        public long FillTicks => Volatile.Read(ref _fillTicks);

        public bool TryTake(long now, double perSecond, int burst, long frequency, out TimeSpan retryAfter)
        {
            lock (this)
            {
                if (!Has(now, perSecond, burst, frequency, out retryAfter))
                {
                    return false;
                }

                _tokens -= Unit;
                return true;
            }
        }

        /// <summary>Counts what the rate gave since the last count; whether a whole token is there, else how long until one is.</summary>
        public bool Has(long now, double perSecond, int burst, long frequency, out TimeSpan retryAfter)
        {
            lock (this)
            {
                _fillTicks = (long)Math.Min(long.MaxValue / 2, frequency * (double)burst / perSecond);
                if (now > _counted)
                {
                    // What the rate gave since the last count, capped at the burst (a full bucket stays full).
                    var elapsed = now - _counted;
                    var given = elapsed >= frequency * (double)burst / perSecond
                        ? burst * Unit
                        : (long)((double)elapsed * perSecond * Unit / frequency);
                    _tokens = Math.Min(burst * Unit, _tokens + given);
                    _counted = now;
                }

                if (_tokens >= Unit)
                {
                    retryAfter = TimeSpan.Zero;
                    return true;
                }

                // Until the missing part of one token has come in.
                retryAfter = TimeSpan.FromSeconds((double)(Unit - _tokens) / Unit / perSecond);
                return false;
            }
        }
    }

    /// <summary>
    /// Who a bucket is for: a twin, node or the operator by id, an anonymous caller by address, and the failed
    /// authentications of an address and its checks while it fails (<see cref="CallerKind.FailedAuthentication"/>,
    /// <see cref="CallerKind.FailingIpCheck"/>).
    /// </summary>
    /// <remarks>
    /// An address counts by the network it is in (<see cref="NetworkOf"/>): an IPv6 address by its /64, since one site
    /// (and so one attacker) is handed at least a /64 and can send from any of its 2^64 addresses; an IPv4 address, also
    /// as it arrives on a dual-stack socket (<c>::ffff:a.b.c.d</c>), by itself.
    /// </remarks>
    public readonly record struct Caller
    {
        private readonly IPAddress? _network;

        public Caller(CallerKind kind, long id, IPAddress? address)
        {
            Kind = kind;
            Id = id;
            Address = address;
        }

        public CallerKind Kind { get; init; }

        public long Id { get; init; }

        /// <summary>The network of the address the caller came from (<see cref="NetworkOf"/>); null for a signed-in caller.</summary>
        public IPAddress? Address
        {
            get => _network;
            init => _network = value is null ? null : NetworkOf(value);
        }
    }

    /// <summary>Bits of an IPv6 address that name its network: a /64 (<see cref="Caller"/>).</summary>
    public const int Ipv6NetworkBits = 64;

    /// <summary>
    /// The address callers from <paramref name="address"/> are counted by: an IPv4 address itself (an IPv4-mapped IPv6
    /// address as its IPv4 address), an IPv6 address its /64 network (the rest of its bits zero, no scope), except a
    /// link-local one, itself.
    /// </summary>
    public static IPAddress NetworkOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (!CountsByNetwork(address))
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[(Ipv6NetworkBits / 8)..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>How an address's network is named in a refusal: the IPv4 address, or the IPv6 network with its prefix.</summary>
    public static string Describe(IPAddress network) => CountsByNetwork(network) ? $"{network}/{Ipv6NetworkBits}" : network.ToString();

    /// <summary>
    /// Whether callers from <paramref name="address"/> count by its /64: IPv6 addresses, but not link-local ones (fe80::/64
    /// is every link's prefix: grouped by it, the hosts of all links would share one budget) nor IPv4-mapped ones.
    /// </summary>
    private static bool CountsByNetwork(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6 && !address.IsIPv6LinkLocal;

    public enum CallerKind : byte
    {
        Twin = 1,
        Node,
        Operator,
        Ip,

        /// <summary>Credentials from an address that did not prove who sent them: charged only when that happens.</summary>
        FailedAuthentication,

        /// <summary>Credentials checked from an address while its <see cref="FailedAuthentication"/> bucket is empty.</summary>
        FailingIpCheck,
    }
}
