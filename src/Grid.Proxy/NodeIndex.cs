using System.Collections.Concurrent;
using Grid.Hosting;
using Grid.Scheduling;
using Microsoft.Extensions.Options;

namespace Grid.Proxy;

/// <summary>
/// One node's fields the <c>/nodes</c> filters test, copied inline: a scan over the capacity view itself follows
/// five references per node (dictionary entry, summary, its free and total capacity, its location), which at 100k
/// nodes is cache misses more than work; a scan over these reads one array.
/// </summary>
public readonly struct NodeEntry(NodeSummary node, int country, int city)
{
    public readonly NodeSummary Node = node;
    public readonly long NodeId = node.NodeId;
    public readonly long FarmId = node.FarmId;
    public readonly long TwinId = node.TwinId;
    public readonly long FreeMru = node.Free.Mru;
    public readonly long FreeHru = node.Free.Hru;
    public readonly long FreeSru = node.Free.Sru;
    public readonly long TotalCru = node.Total.Cru;
    public readonly long TotalMru = node.Total.Mru;
    public readonly long TotalSru = node.Total.Sru;
    public readonly long TotalHru = node.Total.Hru;

    /// <summary>The country's id in <see cref="NodeSnapshot.Countries"/> (one id per spelling up to case).</summary>
    public readonly int Country = country;

    public readonly int City = city;
    public readonly NodeStatus Status = node.Status;
    public readonly NodeCertification Certification = node.Certification;

    /// <summary>The twin renting the node, 0 when none (grid proxy's <c>rented_by_twin_id</c>).</summary>
    public readonly long RentedBy = node.RentedBy ?? 0;

    /// <summary>ThreeFold's rentable: no rent contract and no contract of anyone on the node.</summary>
    public readonly bool Rentable = RentState.Rentable(node);
}

/// <summary>
/// An immutable copy of the capacity view for <c>/nodes</c>: the entries, the countries and cities as ids (with their
/// case-insensitive sort rank, so a text sort is a number sort) and each country's entries, so a country filter
/// scans a tenth of a grid spread over ten countries.
/// </summary>
public sealed class NodeSnapshot
{
    private readonly ConcurrentDictionary<string, Column> _columns = new(StringComparer.Ordinal);

    private NodeSnapshot(NodeEntry[] entries, Names countries, Names cities, long changes)
    {
        Entries = entries;
        Ids = Array.ConvertAll(entries, e => e.NodeId);
        Countries = countries;
        Cities = cities;
        Changes = changes;
        BuiltAt = Environment.TickCount64;
        var counts = new int[countries.Values.Length];
        foreach (var entry in entries)
        {
            counts[entry.Country]++;
        }

        ByCountry = [.. counts.Select(c => new int[c])];
        Array.Clear(counts);
        for (var i = 0; i < entries.Length; i++)
        {
            ByCountry[entries[i].Country][counts[entries[i].Country]++] = i;
        }
    }

    public NodeEntry[] Entries { get; }

    /// <summary>Per entry, its node id (the tie-break of every sort), read apart from the entries.</summary>
    public long[] Ids { get; }

    public Names Countries { get; }

    public Names Cities { get; }

    /// <summary>Per country id, the indexes of its entries.</summary>
    public int[][] ByCountry { get; }

    /// <summary>The view's <see cref="CapacityView.Changes"/> read before the copy was taken.</summary>
    public long Changes { get; }

    public long BuiltAt { get; }

    /// <summary>
    /// Per entry, the value of sort key <paramref name="name"/>, computed once per copy on first use: a sort then reads
    /// one array instead of following each matching node's summary to its capacity records. A column of the summary
    /// alone (<paramref name="ofSummary"/>) is carried into the next copy for the nodes that did not change.
    /// </summary>
    public long[] ColumnOf(string name, Func<NodeEntry, long> key, bool ofSummary = false) =>
        _columns.GetOrAdd(name, _ => new Column(key, ofSummary, Array.ConvertAll(Entries, e => key(e)))).Values;

    /// <summary>
    /// A copy of the view as it is now. Entries are in the view's insertion order, so with <paramref name="previous"/> a
    /// node whose summary is the same object as then keeps its entry (and its values in the carried columns): a rebuild
    /// where few nodes changed looks up each node once and reads only the changed ones' summaries.
    /// </summary>
    public static NodeSnapshot Build(CapacityView view, NodeSnapshot? previous = null)
    {
        var changes = view.Changes;
        var order = view.InsertionOrder;
        var before = previous?.Entries ?? [];
        var countries = new Names.Builder(previous?.Countries);
        var cities = new Names.Builder(previous?.Cities);
        var count = order.Count;
        var entries = new NodeEntry[count];
        var kept = new bool[count];
        for (var i = 0; i < count; i++)
        {
            var node = order[i];
            var same = i < before.Length && ReferenceEquals(before[i].Node, node);
            entries[i] = same ? before[i] : new NodeEntry(node, countries.Id(node.Location.Country), cities.Id(node.Location.City));
            kept[i] = same;
        }

        var snapshot = new NodeSnapshot(entries, countries.Build(), cities.Build(), changes);
        foreach (var (name, column) in previous?._columns ?? [])
        {
            if (column.OfSummary)
            {
                var values = new long[count];
                for (var i = 0; i < count; i++)
                {
                    values[i] = kept[i] ? column.Values[i] : column.Key(entries[i]);
                }

                snapshot._columns[name] = column with { Values = values };
            }
        }

        return snapshot;
    }

    private sealed record Column(Func<NodeEntry, long> Key, bool OfSummary, long[] Values);

    /// <summary>Distinct names up to case (<see cref="StringComparer.OrdinalIgnoreCase"/>), each with its sort rank.</summary>
    public sealed class Names
    {
        private readonly Dictionary<string, int> _ids;

        private Names(Dictionary<string, int> ids, string[] values)
        {
            _ids = ids;
            Values = values;
            Ranks = Rank(values);
        }

        public string[] Values { get; }

        /// <summary>Per id, its place in <see cref="StringComparer.OrdinalIgnoreCase"/> order.</summary>
        public int[] Ranks { get; }

        /// <summary>The id of <paramref name="name"/> in any case, or -1 when no node has it.</summary>
        public int IdOf(string name) => _ids.GetValueOrDefault(name, -1);

        /// <summary>Per id, whether the name contains <paramref name="part"/> (case-insensitive).</summary>
        public bool[] Containing(string part) => [.. Values.Select(v => v.Contains(part, StringComparison.OrdinalIgnoreCase))];

        public static int[] Rank(IReadOnlyList<string> values)
        {
            var order = Enumerable.Range(0, values.Count).ToArray();
            Array.Sort(order, (a, b) => string.Compare(values[a], values[b], StringComparison.OrdinalIgnoreCase));
            var ranks = new int[values.Count];
            for (var i = 0; i < order.Length; i++)
            {
                ranks[order[i]] = i;
            }

            return ranks;
        }

        /// <summary>Names with their ids so far (<paramref name="from"/>'s ids kept: entries carried over still name them).</summary>
        public sealed class Builder(Names? from = null)
        {
            private readonly Dictionary<string, int> _ids = from is null ? new(StringComparer.OrdinalIgnoreCase) : new(from._ids, StringComparer.OrdinalIgnoreCase);
            private readonly List<string> _values = [.. from?.Values ?? []];

            public int Count => _values.Count;

            public int Id(string name)
            {
                if (!_ids.TryGetValue(name, out var id))
                {
                    _ids[name] = id = _values.Count;
                    _values.Add(name);
                }

                return id;
            }

            public Names Build() => new(_ids, [.. _values]);
        }
    }
}

/// <summary>
/// Keeps this silo's <see cref="NodeSnapshot"/> for <c>/nodes</c>, off the request path: while <c>/nodes</c> is read
/// (within the last minute) and the view changed, the copy is rebuilt every <see cref="ProxyOptions.NodeIndexInterval"/>;
/// a read that finds it older than three intervals with the view changed since (the first read after a quiet spell)
/// rebuilds it first. So an answer reflects a change within about one interval, and never more than three; a silo
/// nobody asks for nodes builds nothing.
/// </summary>
public sealed partial class NodeIndex(CapacityView view, IOptions<ProxyOptions> options, TimeProvider time, ILogger<NodeIndex> logger)
    : PeriodicService(time)
{
    private const long ReadRecentlyMs = 60_000;

    private readonly Lock _buildLock = new();
    private NodeSnapshot? _snapshot;
    private long _lastRead;

    /// <summary>The current copy, rebuilt first when it is too old to answer with.</summary>
    public NodeSnapshot Current()
    {
        var now = Environment.TickCount64;
        Volatile.Write(ref _lastRead, now);
        var snapshot = Volatile.Read(ref _snapshot);
        return snapshot is null || (snapshot.Changes != view.Changes && now - snapshot.BuiltAt > 3 * IntervalMs)
            ? Rebuild(snapshot)
            : snapshot;
    }

    protected override TimeSpan Interval => options.Value.NodeIndexInterval;

    protected override bool StepsAtStart => true;

    protected override Task StepAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _snapshot) is { } snapshot && snapshot.Changes != view.Changes
            && Environment.TickCount64 - Volatile.Read(ref _lastRead) < ReadRecentlyMs)
        {
            Rebuild(snapshot);
        }

        return Task.CompletedTask;
    }

    protected override void StepFailed(Exception exception) => LogRebuildFailed(logger, exception);

    private long IntervalMs => (long)options.Value.NodeIndexInterval.TotalMilliseconds;

    /// <summary>One builder at a time; a caller that waited for another's build takes that one.</summary>
    private NodeSnapshot Rebuild(NodeSnapshot? seen)
    {
        lock (_buildLock)
        {
            if (Volatile.Read(ref _snapshot) is { } current && current != seen)
            {
                return current;
            }

            var built = NodeSnapshot.Build(view, seen);
            Volatile.Write(ref _snapshot, built);
            return built;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid-proxy node index could not be rebuilt; retrying on the next tick")]
    private static partial void LogRebuildFailed(ILogger logger, Exception exception);
}
