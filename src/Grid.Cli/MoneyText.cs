using System.Globalization;

namespace Grid.Cli;

/// <summary>
/// Amounts for people: minor units (10^7 per currency unit, as the API and <c>--json</c> keep them) shown in the
/// currency, <c>1,000.00 USD</c>, rounded half away from zero to cents; <c>--exact</c> shows every minor unit
/// (<c>1,000.0000000 USD</c>). The one formatter of amounts in the command line's tables and fields.
/// </summary>
internal static class MoneyText
{
    /// <summary>The JSON fields that hold amounts in minor units (prices per unit in a price list stay in minor units).</summary>
    public static readonly HashSet<string> Fields =
        ["amount", "balance", "spent", "earned", "posting", "pricePerHour", "pricePer30Days", "solutionProviderAmount"];

    private static readonly AsyncLocal<(string Currency, bool Exact)?> s_style = new();

    /// <summary>Formats amounts in <paramref name="currency"/> (full precision when <paramref name="exact"/>) until disposed.</summary>
    public static IDisposable Use(string currency, bool exact)
    {
        var previous = s_style.Value;
        s_style.Value = (currency, exact);
        return new Restore(() => s_style.Value = previous);
    }

    public static string Format(long minor) =>
        Format(minor, s_style.Value?.Currency ?? "USD", s_style.Value?.Exact ?? false);

    public static string Format(long minor, string currency, bool exact)
    {
        var units = (decimal)minor / Money.MinorUnitsPerUnit;
        var shown = exact ? units : Math.Round(units, 2, MidpointRounding.AwayFromZero);
        return shown.ToString(exact ? "#,0.0000000" : "#,0.00", CultureInfo.InvariantCulture) + " " + currency;
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
