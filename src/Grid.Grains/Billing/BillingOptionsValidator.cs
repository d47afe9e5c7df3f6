using Grid.Hosting;

namespace Grid.Billing;

/// <summary>Checks <c>Grid:Billing</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class BillingOptionsValidator() : SettingsValidator<BillingOptions>(BillingOptions.Section)
{
    protected override void Check(SettingsCheck check, BillingOptions options)
    {
        check
            // Offsets within the cycle are whole seconds of the reservation id (like tfchain's contract id mod 600).
            .Require(options.Cycle >= TimeSpan.FromSeconds(10) && options.Cycle.Ticks % TimeSpan.TicksPerSecond == 0,
                nameof(options.Cycle), options.Cycle, "must be whole seconds, at least 10 s.")
            .Require(options.FarmerShare is >= 0 and <= 1, nameof(options.FarmerShare), options.FarmerShare, "must be between 0 and 1.")
            .Require(options.DedicatedDiscount is >= 0 and <= 1, nameof(options.DedicatedDiscount), options.DedicatedDiscount, "must be between 0 and 1.")
            .Require(options.SpotDiscount is >= 0 and < 1, nameof(options.SpotDiscount), options.SpotDiscount, "must be at least 0 and below 1.")
            .Between(nameof(options.CuPrice), options.CuPrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.SuPrice), options.SuPrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.IpuPrice), options.IpuPrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.NetworkPrice), options.NetworkPrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.NamePrice), options.NamePrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.GpuPrice), options.GpuPrice, 0, BillingOptions.MaxPrice)
            .Between(nameof(options.Shards), options.Shards, 1, 256)
            // Every shard drives at least one bucket.
            .Require(options.Buckets >= options.Shards && options.Buckets <= 65536, nameof(options.Buckets), options.Buckets,
                $"must be between Grid:Billing:Shards ({options.Shards}) and 65536.")
            .NotNegative(nameof(options.GracePeriod), options.GracePeriod)
            .NotNegative(nameof(options.SettleDelay), options.SettleDelay)
            .Positive(nameof(options.TickInterval), options.TickInterval);
    }
}
