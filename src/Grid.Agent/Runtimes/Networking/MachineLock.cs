namespace Grid.Agent.Runtimes.Networking;

/// <summary>
/// An exclusive lock on a file shared by every agent on this machine (an advisory <c>flock</c>, which .NET takes for
/// <see cref="FileShare.None"/>), for choices that must not collide between them, such as a pod's addresses.
/// Released when disposed, or by the kernel when the process dies.
/// </summary>
internal static class MachineLock
{
    /// <summary>Waits until the lock on <paramref name="path"/> is held; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task<IDisposable> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another agent is choosing right now; its choice takes milliseconds.
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
            catch (IOException e)
            {
                throw new TimeoutException($"The machine-wide lock {path} was not free within {timeout.TotalSeconds:0} s.", e);
            }
        }
    }
}
