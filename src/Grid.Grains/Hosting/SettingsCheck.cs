using System.Globalization;
using Microsoft.Extensions.Options;

namespace Grid.Hosting;

/// <summary>
/// Collects what is wrong with one settings section, each reason naming its full key, the value found and the rule,
/// e.g. <c>Grid:Billing:Cycle (00:00:02) must be whole seconds, at least 10 s.</c>, so a host that refuses to start
/// says which settings to fix and why, all of them at once.
/// </summary>
public sealed class SettingsCheck(string section)
{
    private readonly List<string> _reasons = [];

    public IReadOnlyList<string> Reasons => _reasons;

    /// <summary>The full key of <paramref name="key"/> in this section, e.g. <c>Grid:Health:HeartbeatInterval</c>.</summary>
    public string KeyOf(string key) => $"{section}:{key}";

    /// <summary>Records the reason unless <paramref name="ok"/>; the value is shown as found (invariant culture).</summary>
    public SettingsCheck Require(bool ok, string key, object? value, string rule)
    {
        if (!ok)
        {
            _reasons.Add($"{KeyOf(key)} ({Format(value)}) {rule}");
        }

        return this;
    }

    /// <summary>Records the reason unless <paramref name="ok"/>, without the value (a secret).</summary>
    public SettingsCheck RequireSecret(bool ok, string key, string rule)
    {
        if (!ok)
        {
            _reasons.Add($"{KeyOf(key)} {rule}");
        }

        return this;
    }

    public SettingsCheck Positive(string key, TimeSpan value) => Require(value > TimeSpan.Zero, key, value, "must be positive.");

    public SettingsCheck NotNegative(string key, TimeSpan value) => Require(value >= TimeSpan.Zero, key, value, "must not be negative.");

    public SettingsCheck AtLeast(string key, long value, long min) => Require(value >= min, key, value, $"must be at least {min}.");

    public SettingsCheck Between(string key, long value, long min, long max) =>
        Require(value >= min && value <= max, key, value, $"must be between {min} and {max}.");

    public ValidateOptionsResult Result() => _reasons.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_reasons);

    private static string Format(object? value) => value switch
    {
        null => "not set",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
