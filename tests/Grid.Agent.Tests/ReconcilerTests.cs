using System.Collections.Immutable;
using Grid.Agent.Reconciling;
using Grid.Agent.Runtimes;

namespace Grid.Agent.Tests;

/// <summary>The reconciler's decision table: desired and held workloads in, stops, confirms and starts out.</summary>
public sealed class ReconcilerTests
{
    private const string Gone = "no longer desired by the controller";

    /// <summary>
    /// Rows: desired, held, stops, confirms, starts. A workload is written <c>id e epoch</c>; a held one ending in
    /// <c>?</c> was re-adopted and does not know its spec yet; a stop carries its reason after <c>:</c>.
    /// </summary>
    public static TheoryData<string, string, string, string, string> Table => new()
    {
        { "", "", "", "", "" },
        { "1e1", "", "", "", "1e1" },
        { "1e1", "1e1", "", "", "" },
        { "", "1e1", $"1e1:{Gone}", "", "" },
        { "1e2", "1e1", "1e1:stale epoch 1: the controller placed epoch 2", "", "1e2" },
        { "1e1", "1e2", "1e2:stale epoch 2: the controller placed epoch 1", "", "1e1" },
        { "1e1 1e3 1e2", "1e3", "", "", "" },
        { "1e1 1e3 1e2", "", "", "", "1e3" },
        { "1e1", "1e1?", "", "1e1", "" },
        { "1e2", "1e1?", "1e1?:stale epoch 1: the controller placed epoch 2", "", "1e2" },
        { "", "1e1?", $"1e1?:{Gone}", "", "" },
        { "1e1 2e2 3e1 5e1", "1e1 2e1 4e1 3e1?", $"2e1:stale epoch 1: the controller placed epoch 2;4e1:{Gone}", "3e1", "2e2 5e1" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void DecidesStopsConfirmsAndStarts(string desired, string held, string stops, string confirms, string starts)
    {
        var plan = Reconciler.Plan(Assignments(desired), Held(held));

        Assert.Equal(Stops(stops), plan.Stops);
        Assert.Equal(Keys(confirms), plan.Confirms.Select(Key));
        Assert.Equal(Keys(starts), plan.Starts.Select(Key));
        Assert.Equal(stops.Length > 0 || starts.Length > 0, plan.Changes);
    }

    [Fact]
    public void ConfirmsAndStartsCarryTheControllersAssignment()
    {
        var desired = Assignments("1e1 2e1");
        var plan = Reconciler.Plan(desired, Held("1e1?"));

        Assert.Same(desired[0], Assert.Single(plan.Confirms));
        Assert.Same(desired[1], Assert.Single(plan.Starts));
    }

    [Fact]
    public void AfterAnyPlanEachDesiredWorkloadIsHeldOnceAtItsHighestEpochAndNothingElse()
    {
        var random = new Random(20);
        for (var round = 0; round < 2_000; round++)
        {
            var desired = Assignments(string.Join(' ', Enumerable.Range(0, random.Next(6)).Select(_ => $"{random.Next(1, 5)}e{random.Next(1, 4)}")));
            var held = Enumerable.Range(1, 5).Where(_ => random.Next(2) == 0)
                .Select(id => new HeldWorkload(new WorkloadKey(id, random.Next(1, 4)), random.Next(2) == 0))
                .ToList();

            var plan = Reconciler.Plan(desired, held);

            var stopped = plan.Stops.Select(s => s.Key).ToHashSet();
            var after = held.Select(h => h.Key).Where(k => !stopped.Contains(k)).Concat(plan.Starts.Select(Key)).ToList();
            var expected = desired.GroupBy(a => a.WorkloadId).Select(g => new WorkloadKey(g.Key, g.Max(a => a.Epoch)));
            Assert.Equal(expected.OrderBy(k => k.WorkloadId), after.OrderBy(k => k.WorkloadId));
            Assert.All(plan.Confirms, a => Assert.Contains(held, h => h.Key == Key(a) && !h.KnowsSpec));
        }
    }

    [Fact]
    public void AdoptionKeepsTheNewestEpochOfEachWorkloadAndStopsTheOlderCopies()
    {
        var plan = Reconciler.Adopt(Keys("1e1 1e3 2e1 1e2"));

        Assert.Equal(Keys("1e3 2e1"), plan.Keep);
        Assert.Equal(Keys("1e1 1e2"), plan.Stop);
        Assert.Empty(Reconciler.Adopt([]).Keep);
    }

    private static WorkloadKey Key(WorkloadAssignment assignment) => new(assignment.WorkloadId, assignment.Epoch);

    private static WorkloadKey[] Keys(string keys) =>
        [.. keys.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(k => ParseKey(k.TrimEnd('?')))];

    private static WorkloadKey ParseKey(string key)
    {
        var parts = key.Split('e');
        return new(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static HeldWorkload[] Held(string held) =>
        [.. held.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => new HeldWorkload(ParseKey(h.TrimEnd('?')), !h.EndsWith('?')))];

    private static StopDecision[] Stops(string stops) =>
        [.. stops.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split(':', 2)).Select(s => new StopDecision(ParseKey(s[0].TrimEnd('?')), s[1]))];

    private static ImmutableArray<WorkloadAssignment> Assignments(string desired) =>
        [.. Keys(desired).Select(k => new WorkloadAssignment(k.WorkloadId, 100 + k.WorkloadId, k.Epoch,
            new WorkloadSpec($"w{k.WorkloadId}", WorkloadType.Process, new Capacity(1, 1 << 20, 0, 0), null)))];
}
