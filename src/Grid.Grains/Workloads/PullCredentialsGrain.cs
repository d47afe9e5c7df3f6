using Grid.Grains;

namespace Grid.Workloads;

/// <summary>
/// One container workload's pull credentials, in this activation's memory and nowhere else: no persistent state, and
/// never collected while it holds some (an idle collection would lose them as a silo loss does). Without credentials
/// it leaves memory at once, so asking about a workload that has none costs nothing lasting.
/// </summary>
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class PullCredentialsGrain : Grain, IPullCredentialsGrain
{
    private PullCredentials? _credentials;

    public Task SetAsync(PullCredentials? credentials)
    {
        _credentials = credentials;
        if (credentials is null)
        {
            this.DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    public Task<PullCredentials?> GetAsync()
    {
        if (_credentials is null)
        {
            this.DeactivateOnIdle();
        }

        return Task.FromResult(_credentials);
    }
}
