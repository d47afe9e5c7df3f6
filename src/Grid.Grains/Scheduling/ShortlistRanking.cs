namespace Grid.Scheduling;

/// <summary>
/// The best nodes of one placement pass, at most <paramref name="capacity"/>: ranked by a primary key (the proximity
/// of a request with <c>constraints.near</c>, else 0), then the strategy's score. Equal ranks are ordered by a
/// per-placement hash of the node id, i.e. at random, so concurrent requests do not all queue on the same node grain.
/// </summary>
/// <param name="capacity">How many nodes are kept.</param>
public sealed class ShortlistRanking(int capacity)
{
    private readonly List<(NodeSummary Node, double Primary, double Score, ulong Tie)> _best = new(capacity + 1);
    private readonly ulong _salt = (ulong)Random.Shared.NextInt64();

    public int Count => _best.Count;

    /// <summary>The nodes kept, best first.</summary>
    public IEnumerable<NodeSummary> Nodes => _best.Select(c => c.Node);

    /// <summary>Keeps <paramref name="node"/> when it ranks among the best so far.</summary>
    public void Insert(NodeSummary node, double primary, double score)
    {
        var tie = unchecked(((ulong)node.NodeId ^ _salt) * 0x9E3779B97F4A7C15UL);
        if (_best.Count == capacity && !Better(primary, score, tie, _best[^1]))
        {
            return;
        }

        var index = 0;
        while (index < _best.Count && !Better(primary, score, tie, _best[index]))
        {
            index++;
        }

        _best.Insert(index, (node, primary, score, tie));
        if (_best.Count > capacity)
        {
            _best.RemoveAt(_best.Count - 1);
        }
    }

    /// <summary>Drops the nodes <paramref name="drop"/> names; answers how many went.</summary>
    public int RemoveAll(Func<NodeSummary, bool> drop) => _best.RemoveAll(c => drop(c.Node));

    private static bool Better(double primary, double score, ulong tie, (NodeSummary Node, double Primary, double Score, ulong Tie) other) =>
        primary > other.Primary || (primary == other.Primary && (score > other.Score || (score == other.Score && tie > other.Tie)));
}
