using System.Globalization;

namespace Grid.Cli;

/// <summary>Durations on the command line: <c>500ms</c>, <c>3s</c>, <c>2m</c>, <c>1h</c>; a bare number is seconds.</summary>
public static class Duration
{
    /// <summary>Parses <paramref name="text"/>; false on bad input or a negative value.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var s = text?.Trim().ToLowerInvariant() ?? "";
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        var (suffix, scale) = units.FirstOrDefault(u => s.EndsWith(u.Suffix, StringComparison.Ordinal) && (u.Suffix != "s" || !s.EndsWith("ms", StringComparison.Ordinal)));
        var number = suffix is null ? s : s[..^suffix.Length];
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * (suffix is null ? 1 : scale));
        return true;
    }
}
