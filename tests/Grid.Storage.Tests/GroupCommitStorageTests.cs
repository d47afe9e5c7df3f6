using System.Net;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Storage;

namespace Grid.Storage.Tests;

/// <summary><see cref="PostgresGrainStorage"/>: grouped writes keep each write's ETag rule; rows stay Orleans' rows.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupCommitStorageTests(PostgresFixture postgres)
{
    private const string ServiceId = "grid-test-service";

    [Fact]
    public async Task ConcurrentWritesCommitInGroupsAndAStaleETagFailsOnlyItsOwnWrite()
    {
        var connectionString = await NewSchemaAsync("group");
        await using var storage = NewStorage(connectionString);

        // Four writes that must conflict: three with an ETag one version behind, one "first write" of a grain that exists.
        var conflicting = new List<(GrainId Id, GrainState<ProbeState> State)>();
        for (var i = 0; i < 4; i++)
        {
            var id = GrainId.Create("probe", $"stale-{i}");
            var current = new GrainState<ProbeState> { State = Named("v1") };
            await storage.WriteStateAsync("s", id, current);
            var behind = new GrainState<ProbeState> { State = Named("lost"), ETag = i < 3 ? current.ETag : null };
            current.State = Named("v2");
            await storage.WriteStateAsync("s", id, current);
            conflicting.Add((id, behind));
        }

        var fresh = Enumerable.Range(0, 200)
            .Select(i => (Id: GrainId.Create("probe", $"fresh-{i}"), State: new GrainState<ProbeState> { State = Named($"f{i}") }))
            .ToList();
        var writes = fresh.Select(w => (w.Id, w.State, Stale: false)).ToList();
        for (var i = 0; i < conflicting.Count; i++)
        {
            writes.Insert(40 + (i * 40), (conflicting[i].Id, conflicting[i].State, Stale: true));
        }

        // Started together without awaiting, so they queue up behind each other's commits.
        var outcomes = await Task.WhenAll(writes.Select(w => CaptureAsync(storage.WriteStateAsync("s", w.Id, w.State))).ToList());

        for (var i = 0; i < writes.Count; i++)
        {
            if (writes[i].Stale)
            {
                Assert.IsType<InconsistentStateException>(outcomes[i]);
            }
            else
            {
                Assert.Null(outcomes[i]);
                Assert.Equal("1", writes[i].State.ETag);
            }
        }

        // A new provider (as after a restart) reads every acknowledged write, and the stale ones changed nothing.
        await using var reader = NewStorage(connectionString);
        foreach (var (id, state) in fresh)
        {
            var read = new GrainState<ProbeState>();
            await reader.ReadStateAsync("s", id, read);
            Assert.True(read.RecordExists);
            Assert.Equal(state.State!.Name, read.State!.Name);
        }

        foreach (var (id, _) in conflicting)
        {
            var read = new GrainState<ProbeState>();
            await reader.ReadStateAsync("s", id, read);
            Assert.Equal("v2", read.State!.Name);
            Assert.Equal("2", read.ETag);
        }

        // Rows committed by one transaction share its id: fewer transactions than writes means they were grouped.
        var transactions = await SchemaTests.CountAsync(connectionString,
            "SELECT count(DISTINCT xmin::text) FROM orleans_grain_state WHERE grain_id_extension LIKE 'fresh-%'");
        Assert.InRange(transactions, 1, fresh.Count - 1);
    }

    [Fact]
    public async Task ClearKeepsTheETagRuleAndAClearedStateCanBeWrittenAgain()
    {
        var connectionString = await NewSchemaAsync("clear");
        await using var storage = NewStorage(connectionString);
        var id = GrainId.Create("probe", "cleared");

        var never = new GrainState<ProbeState>();
        await storage.ClearStateAsync("s", id, never);
        Assert.False(never.RecordExists);

        var state = new GrainState<ProbeState> { State = Named("one") };
        await storage.WriteStateAsync("s", id, state);
        var stale = new GrainState<ProbeState> { State = state.State, ETag = state.ETag };
        await storage.ClearStateAsync("s", id, state);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("s", id, stale));

        state.State = Named("two");
        await storage.WriteStateAsync("s", id, state);
        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync("s", id, read);
        Assert.Equal("two", read.State!.Name);
        Assert.Equal(state.ETag, read.ETag);
    }

    [Fact]
    public async Task LargeStatesAreCompressedWithLz4AndReadBack()
    {
        var connectionString = await NewSchemaAsync("lz4");
        await PostgresSchema.ApplyAsync(connectionString);
        await using var storage = NewStorage(connectionString);
        var id = GrainId.Create("probe", "ledger");
        var large = new ProbeState { Name = "ledger", Counters = Enumerable.Range(0, 500).ToDictionary(i => $"allocation-{i}", i => (long)i) };

        await storage.WriteStateAsync("s", id, new GrainState<ProbeState> { State = large });

        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync("s", id, read);
        Assert.Equal(500, read.State!.Counters.Count);
        Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
            "SELECT count(*) FROM orleans_grain_state WHERE grain_id_extension = 'ledger' AND pg_column_compression(payload) = 'lz4'"));
    }

    [Fact]
    public async Task RowsWrittenByTheOrleansProviderAreReadAndWrittenInPlace()
    {
        var connectionString = await postgres.NewDatabaseAsync("legacy");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo
            .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("grid-test", ServiceId))
            .ConfigureEndpoints(IPAddress.Loopback, FreePort.Get(), FreePort.Get())
            .UseGridPostgres(connectionString)
            .AddAdoNetGrainStorage(LegacyStorage.Name, o =>
            {
                o.Invariant = GridPostgresSiloBuilderExtensions.Invariant;
                o.ConnectionString = PostgresConnectionString.Tune(connectionString);
                o.GrainStorageSerializer = new GridJsonGrainStorageSerializer();
            }));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            var ours = host.Services.GetRequiredKeyedService<IGrainStorage>(GridPostgresSiloBuilderExtensions.StorageName);
            var theirs = host.Services.GetRequiredKeyedService<IGrainStorage>(LegacyStorage.Name);
            var saved = SerializerTests.SampleState();
            var compound = grains.GetGrain<ILegacyCompoundProbeGrain>(-42, "ext");
            var text = grains.GetGrain<ILegacyStringProbeGrain>("twin-é-7");
            await compound.Save(saved);
            await text.Save(saved);

            foreach (var id in new[] { compound.GetGrainId(), text.GetGrainId() })
            {
                var read = new GrainState<ProbeState>();
                await ours.ReadStateAsync("s", id, read);
                Assert.True(read.RecordExists);
                SerializerTests.AssertSameState(saved, read.State!);

                // Written back through ours: the same row moves on (one row per grain), and Orleans' provider reads it.
                read.State = Named("rewritten");
                await ours.WriteStateAsync("s", id, read);
                var back = new GrainState<ProbeState>();
                await theirs.ReadStateAsync("s", id, back);
                Assert.Equal("rewritten", back.State!.Name);
                Assert.Equal(read.ETag, back.ETag);
            }

            Assert.Equal(2, await SchemaTests.CountAsync(connectionString, "SELECT count(*) FROM orleans_grain_state"));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static ProbeState Named(string name) => new() { Name = name };

    private static async Task<Exception?> CaptureAsync(Task write)
    {
        try
        {
            await write;
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private async Task<string> NewSchemaAsync(string purpose)
    {
        var connectionString = PostgresConnectionString.Tune(await postgres.NewDatabaseAsync(purpose));
        await PostgresSchema.ApplyAsync(connectionString);
        return connectionString;
    }

    private static PostgresGrainStorage NewStorage(string connectionString) =>
        new(connectionString, ServiceId, new GridJsonGrainStorageSerializer(), NullLogger<PostgresGrainStorage>.Instance);
}
