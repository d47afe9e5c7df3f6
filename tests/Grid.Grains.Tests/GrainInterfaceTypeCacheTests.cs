using Grid.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

/// <summary>
/// The silo makes a grain reference without reading its interface's attributes on every call (Orleans 10.4 did, on
/// each <c>GetGrain</c>): the references it makes are the ones Orleans makes without the cache.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class GrainInterfaceTypeCacheTests(SharedCluster shared)
{
    /// <summary>Every grain interface of the grid, as the silo and a client (which has no cache) each name it.</summary>
    public static TheoryData<Type> Interfaces() =>
        [.. typeof(INodeGrain).Assembly.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t) && !t.ContainsGenericParameters
            && (typeof(IGrainWithIntegerKey).IsAssignableFrom(t) || typeof(IGrainWithStringKey).IsAssignableFrom(t)))];

    [Theory]
    [MemberData(nameof(Interfaces))]
    public void ASiloNamesEveryGrainInterfaceAsOrleansDoes(Type type)
    {
        var silo = Silo();
        var cached = silo.GetRequiredService<Orleans.Metadata.GrainInterfaceTypeResolver>().GetGrainInterfaceType(type);
        var client = shared.Grid.Cluster.Client.ServiceProvider.GetRequiredService<Orleans.Metadata.GrainInterfaceTypeResolver>();

        Assert.Equal(client.GetGrainInterfaceType(type), cached);
        Assert.True(silo.GetRequiredService<CachedGrainInterfaceTypes>().Count > 0);
    }

    [Fact]
    public async Task AReferenceMadeInTheSiloReachesTheGrainAndAllocatesOnlyItself()
    {
        var grains = Silo().GetRequiredService<IGrainFactory>();
        var nodeId = GridCluster.NewId();
        Assert.Null(await grains.GetGrain<INodeGrain>(nodeId).GetAsync());

        const int Calls = 10_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            _ = grains.GetGrain<INodeGrain>(nodeId + i);
        }

        // A reference is one small object (72 bytes measured); reading the interface's attributes on each call
        // allocated every attribute and the arrays holding them (1,400 bytes measured without the cache).
        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
        Assert.True(perCall <= 128, $"{perCall} bytes allocated per GetGrain");
    }

    private IServiceProvider Silo() => ((InProcessSiloHandle)shared.Grid.Cluster.Primary!).SiloHost.Services;
}
