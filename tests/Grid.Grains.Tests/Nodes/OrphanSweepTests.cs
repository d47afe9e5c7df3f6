using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>The orphan sweep shared by nodes (allocations) and farms (addresses), with plain holdings.</summary>
public sealed class OrphanSweepTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cutoff = Now.AddMinutes(-1);

    [Fact]
    public async Task OldUnconfirmedHoldingsAreAskedAboutAndOnlyTheUnclaimedReleased()
    {
        var sweep = NewSweep();
        Holding[] held = [new("young", Now), new("claimed", Now.AddHours(-1)), new("orphan", Now.AddHours(-1)), new("never-held", null)];
        var asked = new List<string>();
        var released = new List<string>();

        var count = await sweep.SweepAsync(held, Cutoff, Ask(asked, claimed: "claimed"), Collect(released));

        Assert.Equal(["claimed", "orphan"], asked);
        Assert.Equal(["orphan"], released);
        Assert.Equal(1, count);
        Assert.True(sweep.IsConfirmed("claimed"));

        // A confirmed holding is not asked about again; an unclaimed one is, until it is gone.
        asked.Clear();
        await sweep.SweepAsync(held, Cutoff, Ask(asked, claimed: "claimed"), Collect(released));
        Assert.Equal(["orphan"], asked);
    }

    [Fact]
    public async Task AHoldingConfirmedWhileItsReservationIsAskedIsNotReleased()
    {
        var sweep = NewSweep();
        var answer = new TaskCompletionSource<bool>();
        var released = new List<string>();

        var running = sweep.SweepAsync([new Holding("retried", Now.AddHours(-1))], Cutoff, _ => answer.Task, Collect(released));
        // A placement retry claims it meanwhile; the reservation's answer (not placed yet) arrives after.
        sweep.Confirm("retried");
        answer.SetResult(false);

        Assert.Equal(0, await running);
        Assert.Empty(released);
    }

    [Fact]
    public async Task AForgottenHoldingIsASuspectAgain()
    {
        var sweep = NewSweep();
        sweep.Confirm("moved");
        sweep.Forget("moved");
        var released = new List<string>();

        await sweep.SweepAsync([new Holding("moved", Now.AddHours(-1))], Cutoff, _ => Task.FromResult(false), Collect(released));

        Assert.Equal(["moved"], released);
    }

    private static OrphanSweep<Holding, string> NewSweep() => new(h => h.Id, h => h.Since);

    private static Func<Holding, Task<bool>> Ask(List<string> asked, string claimed) => h =>
    {
        asked.Add(h.Id);
        return Task.FromResult(h.Id == claimed);
    };

    private static Func<Holding, Task> Collect(List<string> released) => h =>
    {
        released.Add(h.Id);
        return Task.CompletedTask;
    };

    private sealed record Holding(string Id, DateTimeOffset? Since);
}
