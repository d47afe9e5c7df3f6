using Grid.Billing;
using Grid.Host.Hosting;
using Grid.Host.Security;
using Grid.Ledger;
using Grid.Proxy;
using Grid.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

namespace Grid.Host.Tests;

/// <summary>
/// Every <c>Grid:*</c> section is checked at start and says what is wrong: each reason names its key, its value and
/// the rule. The validators are pure, so most of this needs no host; one host shows the reasons stop it.
/// </summary>
public sealed class SettingsValidationTests
{
    [Fact]
    public void TheDefaultsOfEverySectionPass()
    {
        Assert.Empty(Reasons(new GridHostOptionsValidator().Validate(null, new GridHostOptions())));
        Assert.Empty(Reasons(new GridHealthOptionsValidator().Validate(null, new GridHealthOptions())));
        Assert.Empty(Reasons(new GridIndexOptionsValidator().Validate(null, new GridIndexOptions())));
        Assert.Empty(Reasons(new BillingOptionsValidator().Validate(null, new BillingOptions())));
        Assert.Empty(Reasons(new LedgerOptionsValidator().Validate(null, new LedgerOptions())));
        Assert.Empty(Reasons(new ProxyOptionsValidator().Validate(null, new ProxyOptions())));
        Assert.Empty(Reasons(new GridLimitsOptionsValidator().Validate(null, new GridLimitsOptions())));
    }

    [Fact]
    public void ABillingCycleOfTwoSecondsIsNamedWithItsValueAndTheRule()
    {
        var result = new BillingOptionsValidator().Validate(null, new BillingOptions { Cycle = TimeSpan.FromSeconds(2) });

        Assert.Equal(["Grid:Billing:Cycle (00:00:02) must be whole seconds, at least 10 s."], Reasons(result));
    }

    [Fact]
    public void SeveralWrongBillingValuesAreAllListed()
    {
        var result = new BillingOptionsValidator().Validate(null, new BillingOptions
        {
            Cycle = TimeSpan.FromSeconds(10.5),
            FarmerShare = 1.5m,
            SuPrice = -1,
            Shards = 8,
            Buckets = 4,
            TickInterval = TimeSpan.Zero,
        });

        Assert.Equal(
            [
                "Grid:Billing:Cycle (00:00:10.5000000) must be whole seconds, at least 10 s.",
                "Grid:Billing:FarmerShare (1.5) must be between 0 and 1.",
                $"Grid:Billing:SuPrice (-1) must be between 0 and {BillingOptions.MaxPrice}.",
                "Grid:Billing:Buckets (4) must be between Grid:Billing:Shards (8) and 65536.",
                "Grid:Billing:TickInterval (00:00:00) must be positive.",
            ],
            Reasons(result));
    }

    [Fact]
    public void WrongNameAndNetworkPricesAreNamed()
    {
        var result = new BillingOptionsValidator().Validate(null, new BillingOptions { NetworkPrice = -1, NamePrice = BillingOptions.MaxPrice + 1 });

        Assert.Equal(
            [
                $"Grid:Billing:NetworkPrice (-1) must be between 0 and {BillingOptions.MaxPrice}.",
                $"Grid:Billing:NamePrice ({BillingOptions.MaxPrice + 1}) must be between 0 and {BillingOptions.MaxPrice}.",
            ],
            Reasons(result));
    }

    [Theory]
    [InlineData("00:00:03")]
    [InlineData("00:00:01")]
    public void AHeartbeatTimeoutNotAboveTheIntervalIsRefused(string timeout)
    {
        var options = new GridHealthOptions { HeartbeatInterval = TimeSpan.FromSeconds(3), HeartbeatTimeout = TimeSpan.Parse(timeout, null) };

        var reason = Assert.Single(Reasons(new GridHealthOptionsValidator().Validate(null, options)));

        Assert.StartsWith($"Grid:Health:HeartbeatTimeout ({timeout}) must exceed Grid:Health:HeartbeatInterval (00:00:03)", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:09")]
    public void ASuspectAfterNotBetweenZeroAndTheTimeoutIsRefused(string suspectAfter)
    {
        var options = new GridHealthOptions { HeartbeatTimeout = TimeSpan.FromSeconds(9), SuspectAfter = TimeSpan.Parse(suspectAfter, null) };

        var reason = Assert.Single(Reasons(new GridHealthOptionsValidator().Validate(null, options)));

        Assert.Equal($"Grid:Health:SuspectAfter ({suspectAfter}) must be positive and below Grid:Health:HeartbeatTimeout (00:00:09).", reason);
        Assert.Empty(Reasons(new GridHealthOptionsValidator().Validate(null, new GridHealthOptions { SuspectAfter = TimeSpan.FromSeconds(4) })));
    }

    [Fact]
    public void EachOtherSectionNamesItsWrongKeys()
    {
        Assert.Equal(
            ["Grid:Health:MassFailureShare (0) must be above 0 and at most 1.", "Grid:Health:ScanInterval (-00:00:01) must be positive."],
            Reasons(new GridHealthOptionsValidator().Validate(null, new GridHealthOptions { MassFailureShare = 0, ScanInterval = TimeSpan.FromSeconds(-1) }))
                .Order(StringComparer.Ordinal));
        Assert.Equal(
            ["Grid:Index:Shards (0) must be between 1 and 1024.", "Grid:Index:RefreshInterval (00:00:00) must be positive."],
            Reasons(new GridIndexOptionsValidator().Validate(null, new GridIndexOptions { Shards = 0, RefreshInterval = TimeSpan.Zero })));
        Assert.Equal(
            ["Grid:Proxy:LedgerPollInterval (00:00:00) must be positive."],
            Reasons(new ProxyOptionsValidator().Validate(null, new ProxyOptions { LedgerPollInterval = TimeSpan.Zero })));
        Assert.Equal(
            ["Grid:Limits:TwinBurst (0) must be at least 1.", "Grid:Limits:MaxReservationsPerTwin (-1) must be at least 0."],
            Reasons(new GridLimitsOptionsValidator().Validate(null, new GridLimitsOptions { TwinBurst = 0, MaxReservationsPerTwin = -1 })));
        Assert.Equal(
            [
                "Grid:Cluster:GatewayPort (70000) must be between 1 and 65535.",
                "Grid:Cluster:NumMissedProbesLimit (0) must be between 1 and 100.",
            ],
            Reasons(new GridHostOptionsValidator().Validate(null, new GridHostOptions
            {
                Cluster = new GridClusterOptions { GatewayPort = 70_000, NumMissedProbesLimit = 0 },
            })));
        Assert.Equal(
            ["Grid:Cluster:GatewayPort (11111) must differ from Grid:Cluster:SiloPort: silos and clients connect on separate ports."],
            Reasons(new GridHostOptionsValidator().Validate(null, new GridHostOptions { Cluster = new GridClusterOptions { GatewayPort = 11111 } })));
    }

    [Fact]
    public void AWrongLedgerSigningKeyIsNamedButNeverShown()
    {
        const string secret = "not-hex-but-secret";
        var reasons = Reasons(new LedgerOptionsValidator().Validate(null, new LedgerOptions { SigningKey = secret, MaxBatch = 0 }));

        Assert.Equal(
            ["Grid:Ledger:MaxBatch (0) must be at least 1.", "Grid:Ledger:SigningKey must be 64 hex digits (an Ed25519 seed), or unset to generate one."],
            reasons);
        Assert.DoesNotContain(reasons, r => r.Contains(secret, StringComparison.Ordinal));
        Assert.Empty(Reasons(new LedgerOptionsValidator().Validate(null, new LedgerOptions { SigningKey = new string('a', 64) })));
    }

    [Fact]
    public async Task AHostWithWrongSettingsRefusesToStartAndSaysWhichAndWhy()
    {
        var builder = WebApplication.CreateBuilder(
        [
            "--urls", "http://127.0.0.1:0",
            $"--Grid:Cluster:SiloPort={FreePort.Get()}",
            $"--Grid:Cluster:GatewayPort={FreePort.Get()}",
            "--Grid:Demo:Nodes=0",
            "--Logging:LogLevel:Default=Warning",
            "--Grid:Billing:Cycle=00:00:02",
            "--Grid:Health:HeartbeatTimeout=00:00:02",
            "--Grid:Proxy:NodeIndexInterval=00:00:00",
        ]);
        builder.AddGridHost();
        await using var app = builder.Build();
        app.MapGridEndpoints();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        var message = Flatten(error);
        Assert.Contains("Grid:Billing:Cycle (00:00:02) must be whole seconds, at least 10 s.", message, StringComparison.Ordinal);
        Assert.Contains("Grid:Health:HeartbeatTimeout (00:00:02) must exceed Grid:Health:HeartbeatInterval (00:00:03)", message, StringComparison.Ordinal);
        Assert.Contains("Grid:Proxy:NodeIndexInterval (00:00:00) must be positive.", message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<string> Reasons(ValidateOptionsResult result) =>
        result.Failed ? [.. result.Failures!] : [];

    /// <summary>The messages of an exception and all it wraps (several sections failing come as an aggregate).</summary>
    private static string Flatten(Exception error) => error switch
    {
        AggregateException aggregate => string.Join(" | ", aggregate.InnerExceptions.Select(Flatten)),
        _ when error.InnerException is { } inner => error.Message + " | " + Flatten(inner),
        _ => error.Message,
    };
}
