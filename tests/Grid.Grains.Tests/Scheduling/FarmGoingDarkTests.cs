using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>
/// A farm whose uplink fails: most of its nodes go silent at the same moment and time out a moment apart. The
/// mass-failure brake must pace the moves out of it from the first one, not from the node that tips the share.
/// </summary>
public sealed class FarmGoingDarkTests(ITestOutputHelper output)
{
    private const double MovesPerSecond = 5;
    private const int Silent = 6;
    private const int PerNode = 20;
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(9);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task SixOfAFarmsTenNodesGoingSilentTogetherMoveAtTheBrakesPaceFromTheFirstMove()
    {
        await using var grid = await GridCluster.StartAsync(
            ("Grid:Health:HeartbeatTimeout", HeartbeatTimeout.ToString("c")),
            ("Grid:Health:MassFailureShare", "0.5"), ("Grid:Health:MassFailureMovesPerSecond", "5"));
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);

        // Six nodes of twenty slots hold twenty reservations each (the only nodes yet); the farm's four other nodes
        // come after, with room for all of them. The six beat last now, at registration.
        var lastBeat = grid.Clock.GetUtcNow();
        for (var i = 0; i < Silent; i++)
        {
            await grid.RegisterNodeAsync(farm, twin, new Capacity(PerNode, (long)PerNode << 30, 0, 0), country: "XE");
        }

        var reservations = new List<long>();
        for (var i = 0; i < Silent * PerNode; i++)
        {
            reservations.Add((await grid.ReserveAsync(twin, Small)).ReservationId);
        }

        var beating = new List<long>();
        for (var i = 0; i < 10 - Silent; i++)
        {
            beating.Add(await grid.RegisterNodeAsync(farm, twin, new Capacity(64, 64L << 30, 0, 0), country: "XE"));
        }

        // Grid time runs on in quarter seconds, the four others beating, until every reservation has moved (about
        // 24 s of grid time at the brake's pace).
        await Poll.UntilAsync(async () =>
        {
            await grid.AdvanceAsync(TimeSpan.FromSeconds(1), beating, TimeSpan.FromMilliseconds(250));
            return (await MovesAsync(grid, reservations)).Count == reservations.Count;
        }, TimeSpan.FromSeconds(120), "every reservation moved off the silent nodes");

        // No node could be declared down before the timeout; from then on, the k-th move waited for its slot at the
        // brake's pace (a braked move waits on grid time, so a move late in real time is only later, never earlier).
        var moves = await MovesAsync(grid, reservations);
        var firstPossible = lastBeat + HeartbeatTimeout;
        var span = (moves[^1] - moves[0]).TotalSeconds;
        output.WriteLine($"{moves.Count} moves from {(moves[0] - lastBeat).TotalSeconds:0.00} s to {(moves[^1] - lastBeat).TotalSeconds:0.00} s " +
            $"after the last heartbeat: {(moves.Count - 1) / span:0.0} moves/s (brake: {MovesPerSecond}/s)");
        for (var k = 0; k < moves.Count; k++)
        {
            var earliest = firstPossible + TimeSpan.FromSeconds((k - 2) / MovesPerSecond);
            Assert.True(moves[k] >= earliest,
                $"move {k + 1} of {moves.Count} at {(moves[k] - lastBeat).TotalSeconds:0.00} s after the last heartbeat, before its slot at " +
                $"{(earliest - lastBeat).TotalSeconds:0.00} s: {moves.Count(m => m < earliest)} moves by then, unpaced");
        }

        Assert.True((moves.Count - 1) / span <= MovesPerSecond * 1.1, $"{(moves.Count - 1) / span:0.0} moves/s against a brake of {MovesPerSecond}/s");
    }

    /// <summary>When each reservation that moved did so (its "moved" event, in grid time), in order.</summary>
    private static async Task<List<DateTimeOffset>> MovesAsync(GridCluster grid, List<long> reservations)
    {
        var events = await Task.WhenAll(reservations.Select(id => grid.Grains.GetGrain<IReservationGrain>(id).GetEventsAsync()));
        return [.. events.SelectMany(e => e.Where(x => x.Kind == "moved").Take(1)).Select(e => e.At).Order()];
    }
}
