using Orleans.CodeGeneration;
namespace Grid.Grains;

/// <summary>
/// The pull credentials of one container workload, held in memory only (never in storage, never logged): lost with
/// the silo that holds them, after which the node's pull fails and says so. Key: workload id.
/// </summary>
[Alias("grid.IPullCredentialsGrain")]
[Version(1)]
public interface IPullCredentialsGrain : IGrainWithIntegerKey
{
    /// <summary>Keeps <paramref name="credentials"/> (null forgets them).</summary>
    [Alias("Set")]
    Task SetAsync(PullCredentials? credentials);

    [Alias("Get")]
    Task<PullCredentials?> GetAsync();
}
