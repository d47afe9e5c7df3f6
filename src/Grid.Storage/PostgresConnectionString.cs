using System.Data.Common;
using Npgsql;

namespace Grid.Storage;

/// <summary>Connection string defaults the Orleans ADO.NET providers need on PostgreSQL.</summary>
public static class PostgresConnectionString
{
    /// <summary>
    /// Returns <paramref name="connectionString"/> with <c>Pooling=true</c>, <c>No Reset On Close=true</c>,
    /// <c>Max Auto Prepare=32</c>, <c>Write Buffer Size=65536</c> and <c>Timezone=UTC</c> added where the caller did not set them. The providers
    /// open a connection per call, so skipping the reset round trip on return to the pool measured about +60%
    /// writes/s; they also never prepare their statements, so without auto-preparation PostgreSQL parses and
    /// plans the grain-state upsert on every write. A UTC session makes every timestamp conversion independent
    /// of the server's time zone. Values the caller set are kept.
    /// </summary>
    public static string Tune(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        // The generic builder only holds the keys that were actually written, unlike Npgsql's.
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var tuned = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Pooling"))
        {
            tuned.Pooling = true;
        }

        if (!given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose"))
        {
            tuned.NoResetOnClose = true;
        }

        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            tuned.MaxAutoPrepare = 32;
        }

        if (!given.ContainsKey("Write Buffer Size") && !given.ContainsKey("WriteBufferSize"))
        {
            tuned.WriteBufferSize = 64 * 1024;
        }

        if (!given.ContainsKey("Timezone"))
        {
            tuned.Timezone = "UTC";
        }

        return tuned.ConnectionString;
    }
}
