using System.Collections.Immutable;
using Grid.Client;

namespace Grid.Agent.Tests;

/// <summary>Which reports a heartbeat carries: every one until a version is acknowledged, then only what differs from it.</summary>
public sealed class ReportChangesTests
{
    private static readonly WorkloadReport A = new(1, 1, WorkloadState.Running);
    private static readonly WorkloadReport B = new(2, 3, WorkloadState.Running) { Endpoints = [new WorkloadEndpoint("http", "10.0.0.1", 8080)] };

    [Fact]
    public void EveryReportUntilAVersionIsAcknowledgedThenNoneWhileNothingChanges()
    {
        var changes = new ReportChanges(100);

        var first = changes.Next([A, B]);
        changes.Answered(null);
        var again = changes.Next([A, B]);
        changes.Answered(again.Version);
        var quiet = changes.Next([A, B with { Endpoints = [new WorkloadEndpoint("http", "10.0.0.1", 8080)] }, A with { Message = "still" }]);
        changes.Answered(quiet.Version);

        Assert.Equal([A, B], first.Workloads.ToArray());
        Assert.Equal((100L, (long?)null), (first.Version, first.Base));
        Assert.Equal([A, B], again.Workloads.ToArray());
        Assert.Equal((101L, (long?)null), (again.Version, again.Base));
        Assert.Empty(quiet.Workloads);
        Assert.Equal((101L, (long?)101L), (quiet.Version, quiet.Base));
        Assert.Equal(101, changes.Acknowledged);
    }

    [Fact]
    public void AChangeCarriesTheReportsThatDifferOutputAndNewEpochsAsAChangeOfTheAcknowledgedVersion()
    {
        var changes = new ReportChanges(1);
        changes.Answered(changes.Next([A, B]).Version);

        var failed = A with { State = WorkloadState.Failed, Reason = WorkloadReasons.ExitCode };
        var moved = B with { Endpoints = [new WorkloadEndpoint("http", "10.0.0.1", 8081)] };
        var output = new WorkloadReport(1, 2, WorkloadState.Running) { Logs = "hello\n" };
        var change = changes.Next([failed, moved, output]);

        Assert.Equal([failed, moved, output], change.Workloads.ToArray());
        Assert.Equal((2L, (long?)1L), (change.Version, change.Base));

        // Not answered (no contact): the next change is still of version 1, and holds everything that differs from it.
        var retried = changes.Next([failed, B]);
        Assert.Equal([failed], retried.Workloads.ToArray());
        Assert.Equal((3L, (long?)1L), (retried.Version, retried.Base));

        changes.Answered(3);
        Assert.Empty(changes.Next([failed, B]).Workloads);
    }

    [Fact]
    public void AnAnswerAcknowledgingAnotherVersionOrNoneBringsEveryReportBack()
    {
        var changes = new ReportChanges(1);
        changes.Answered(changes.Next([A, B]).Version);
        var change = changes.Next([A with { Restarts = 1 }, B]);

        changes.Answered(change.Version - 1);
        var whole = changes.Next([A with { Restarts = 1 }, B]);
        changes.Answered(null);
        var wholeAgain = changes.Next([A with { Restarts = 1 }, B]);

        Assert.Null(changes.Acknowledged);
        Assert.Null(whole.Base);
        Assert.Equal(2, whole.Workloads.Length);
        Assert.Null(wholeAgain.Base);
        Assert.Equal(2, wholeAgain.Workloads.Length);
    }

    [Fact]
    public void ARepeatIsTheSameWorkloadEpochStateRestartsReasonDigestAndEndpointsWithoutOutput()
    {
        Assert.True(B.Repeats(B with { Message = "other words", Endpoints = [.. B.Endpoints!.Value] }));
        Assert.False((B with { Logs = "x" }).Repeats(B));
        Assert.True((B with { Logs = "" }).Repeats(B));
        Assert.False(B.Repeats(B with { Endpoints = null }));
        Assert.False((B with { Endpoints = null }).Repeats(B));
        Assert.True((A with { Endpoints = null }).Repeats(A));
        Assert.False(A.Repeats(A with { Epoch = 2 }));
        Assert.False(A.Repeats(A with { Digest = "sha256:ab" }));
        Assert.False(A.Repeats(A with { Reason = WorkloadReasons.OomKilled }));
        Assert.False(A.Repeats(A with { Restarts = 1 }));
        Assert.False(A.Repeats(A with { State = WorkloadState.Stopped }));
        Assert.False(A.Repeats(new WorkloadReport(9, 1, WorkloadState.Running)));
    }
}
