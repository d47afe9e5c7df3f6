using System.Net.Sockets;
using Npgsql;

namespace Grid.Storage;

/// <summary>
/// What this silo knows about its own link to PostgreSQL: fed by every grain-state group
/// (<see cref="PostgresGrainStorage"/>) and by a periodic <c>SELECT 1</c>, it tells for how long every attempt has
/// failed and how long ago the last failure was. A silo whose link keeps failing while other silos reach the
/// database leaves the cluster (see the host's storage-loss guard); a silo that saw failures itself recently never
/// vouches for being healthy, which keeps a database restart (every silo failing at once) from evicting anyone.
/// </summary>
/// <remarks>Times are the process's monotonic clock, never wall-clock: only durations are compared.</remarks>
/// <param name="time">The clock durations are measured with.</param>
/// <param name="probe">One round trip to the database (e.g. <c>SELECT 1</c>), throwing when it fails.</param>
public sealed class StorageHealth(TimeProvider time, Func<CancellationToken, Task> probe)
{
    private const long Never = long.MinValue;
    private long _failingSince = Never;
    private long _lastFailure = Never;

    /// <summary>Runs the probe now and records its outcome; true when the database answered.</summary>
    public async Task<bool> ProbeAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await probe(cancellationToken);
            Succeeded();
            return true;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            Observe(exception);
            return exception is PostgresException;
        }
    }

    /// <summary>The database answered (a statement ran, or PostgreSQL itself refused it): the failure streak ends.</summary>
    public void Succeeded() => Interlocked.Exchange(ref _failingSince, Never);

    /// <summary>An attempt could not reach the database.</summary>
    public void Failed()
    {
        var now = time.GetTimestamp();
        Interlocked.CompareExchange(ref _failingSince, now, Never);
        Interlocked.Exchange(ref _lastFailure, now);
    }

    /// <summary>
    /// Records a failed attempt: a failure when <paramref name="exception"/> says the database was not reached, a
    /// success when PostgreSQL itself answered with an error; anything else says nothing about the link.
    /// </summary>
    public void Observe(Exception exception)
    {
        if (exception is PostgresException)
        {
            Succeeded();
        }
        else if (IsLinkFailure(exception))
        {
            Failed();
        }
    }

    /// <summary>How long every attempt has failed; <see cref="TimeSpan.Zero"/> while the last attempt succeeded.</summary>
    public TimeSpan FailingFor => Since(Interlocked.Read(ref _failingSince)) ?? TimeSpan.Zero;

    /// <summary>How long ago an attempt last failed; <see langword="null"/> when none ever did.</summary>
    public TimeSpan? SinceLastFailure => Since(Interlocked.Read(ref _lastFailure));

    /// <summary>
    /// Whether <paramref name="exception"/> means the database could not be reached (connection refused, dropped
    /// or timed out), as opposed to PostgreSQL answering with an error, which proves the link works.
    /// </summary>
    public static bool IsLinkFailure(Exception exception) => exception switch
    {
        PostgresException => false,
        NpgsqlException or SocketException or IOException or TimeoutException or OperationCanceledException => true,
        InvalidOperationException when exception.InnerException is { } inner => IsLinkFailure(inner),
        _ => exception.InnerException is { } cause && IsLinkFailure(cause),
    };

    private TimeSpan? Since(long timestamp) => timestamp == Never ? null : time.GetElapsedTime(timestamp);
}
