using Grid.Releases;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

/// <summary>What a silo reads of the cluster's releases: each silo's own release and the interface versions all serve.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ClusterReleasesTests(SharedCluster cluster)
{
    [Fact]
    public void ASiloKnowsEachSilosReleaseAndWhichInterfaceVersionsEverySiloServes()
    {
        var silo = ((InProcessSiloHandle)cluster.Grid.Cluster.Primary!).SiloHost.Services;
        var releases = silo.GetRequiredService<ClusterReleases>();

        Assert.Equal(GridRelease.Version, releases.ReleaseOf(silo.GetRequiredService<ILocalSiloDetails>().SiloAddress));
        Assert.True(releases.EverySiloSupports(typeof(INodeGrain), 2));
        // A method added at version 3 must not be called yet: no silo serves it.
        Assert.False(releases.EverySiloSupports(typeof(INodeGrain), 3));
    }
}
