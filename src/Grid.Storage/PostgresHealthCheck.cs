using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Grid.Storage;

/// <summary>
/// Readiness check of the PostgreSQL database behind membership, grain state and reminders:
/// runs <c>SELECT 1</c> and reports unhealthy when it fails or takes longer than the timeout.
/// </summary>
/// <param name="connectionString">The database to probe.</param>
/// <param name="timeout">How long to wait for the answer.</param>
public sealed class PostgresHealthCheck(string connectionString, TimeSpan timeout) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await PingAsync(connectionString, timeout, cancellationToken);
            return HealthCheckResult.Healthy("PostgreSQL answered SELECT 1.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy,
                $"PostgreSQL did not answer within {timeout.TotalMilliseconds:0} ms.");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy,
                "PostgreSQL is not reachable.", ex);
        }
    }

    /// <summary>Runs <c>SELECT 1</c> against the database, throwing when it fails or exceeds <paramref name="timeout"/>.</summary>
    public static async Task PingAsync(string connectionString, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(deadline.Token);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync(deadline.Token);
    }
}
