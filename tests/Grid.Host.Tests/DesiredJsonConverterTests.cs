using System.Collections.Immutable;
using System.Text.Json;
using Grid.Client;
using Grid.Host.Api;

namespace Grid.Host.Tests;

/// <summary>
/// A heartbeat answer written through <see cref="DesiredJsonConverter"/> is the JSON the API's options write without
/// it, on the first write, on a repeated one (from the cache), and after any workload of the list changed. No host needed.
/// </summary>
public sealed class DesiredJsonConverterTests
{
    private static readonly JsonSerializerOptions Cached = WithConverter();

    [Fact]
    public void RepeatedListIsWrittenAsWithoutTheCache()
    {
        var desired = Workloads(12);
        var answer = Answer(desired);
        var plain = JsonSerializer.Serialize(answer, GridJson.Api);
        Assert.Equal(plain, JsonSerializer.Serialize(answer, Cached));
        Assert.Equal(plain, JsonSerializer.Serialize(Answer([.. desired]), Cached));
        Assert.Contains("\"desired\":[{\"workloadId\":1,", plain, StringComparison.Ordinal);
    }

    [Fact]
    public void ChangedWorkloadOrderOrLengthIsWrittenAnew()
    {
        var desired = Workloads(10);
        _ = JsonSerializer.Serialize(Answer(desired), Cached);

        // The same first workload (the cache's slot) with one later workload replaced, another order, one more.
        var renamed = desired.SetItem(5, desired[5] with { Spec = desired[5].Spec with { Name = "renamed" } });
        var reordered = desired.RemoveAt(3).Add(desired[3]);
        var longer = desired.Add(desired[0] with { WorkloadId = 99 });
        foreach (var list in new[] { renamed, reordered, longer, desired })
        {
            Assert.Equal(JsonSerializer.Serialize(Answer(list), GridJson.Api), JsonSerializer.Serialize(Answer(list), Cached));
        }

        Assert.Contains("\"renamed\"", JsonSerializer.Serialize(Answer(renamed), Cached), StringComparison.Ordinal);
    }

    [Fact]
    public void CredentialsAreWrittenButNotKept()
    {
        var desired = Workloads(9);
        var withAuth = desired.SetItem(0, desired[0] with { Auth = new PullCredentials("user", "secret") });
        Assert.Contains("\"secret\"", JsonSerializer.Serialize(Answer(withAuth), Cached), StringComparison.Ordinal);

        // The same instances again are written from scratch (nothing was kept): the same JSON as without the cache.
        Assert.Equal(JsonSerializer.Serialize(Answer(withAuth), GridJson.Api), JsonSerializer.Serialize(Answer(withAuth), Cached));
    }

    [Fact]
    public void ShortAndEmptyListsAreWrittenAsWithoutTheCache()
    {
        foreach (var count in new[] { 0, 1, DesiredJsonConverter.MinCached - 1 })
        {
            var answer = Answer(Workloads(count));
            Assert.Equal(JsonSerializer.Serialize(answer, GridJson.Api), JsonSerializer.Serialize(answer, Cached));
        }
    }

    private static JsonSerializerOptions WithConverter()
    {
        var options = new JsonSerializerOptions(GridJson.Api);
        options.Converters.Add(new DesiredJsonConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private static HeartbeatResponse Answer(ImmutableArray<WorkloadAssignment> desired) =>
        new(NodeStatus.Up, false, desired) { HeartbeatIntervalMs = 1_000, DesiredVersion = 3 };

    private static ImmutableArray<WorkloadAssignment> Workloads(int count) =>
    [
        .. Enumerable.Range(1, count).Select(i => new WorkloadAssignment(i, 100, 2,
            new WorkloadSpec($"w{i}", WorkloadType.Process, new Capacity(0, 8L << 20, 0, 0),
                new ProcessSpec("/bin/sleep", ["600"], ImmutableDictionary<string, string>.Empty.Add("N", $"{i}"))))
        { TwinId = 7 }),
    ];
}
