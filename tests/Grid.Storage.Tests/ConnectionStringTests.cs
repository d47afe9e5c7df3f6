using Grid.Storage;
using Npgsql;

namespace Grid.Storage.Tests;

public sealed class ConnectionStringTests
{
    [Fact]
    public void TuningAddsThePoolResetPreparationAndTimezoneDefaults()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionString.Tune("Host=db;Database=grid;Username=grid"));

        Assert.True(tuned.Pooling);
        Assert.True(tuned.NoResetOnClose);
        Assert.Equal(32, tuned.MaxAutoPrepare);
        Assert.Equal(64 * 1024, tuned.WriteBufferSize);
        Assert.Equal("UTC", tuned.Timezone);
        Assert.Equal("db", tuned.Host);
    }

    [Fact]
    public void TuningKeepsWhatTheOperatorSet()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionString.Tune(
            "Host=db;Database=grid;No Reset On Close=false;Max Auto Prepare=0;Write Buffer Size=8192;Timezone=Europe/Brussels"));

        Assert.False(tuned.NoResetOnClose);
        Assert.Equal(8192, tuned.WriteBufferSize);
        Assert.Equal(0, tuned.MaxAutoPrepare);
        Assert.Equal("Europe/Brussels", tuned.Timezone);
    }
}
