using System.Globalization;

namespace Grid.Cli;

/// <summary>
/// Sizes on the command line. Units are binary whatever their spelling: <c>K</c>, <c>KB</c> and <c>KiB</c> all mean
/// 1024 bytes; likewise <c>M</c> (2^20), <c>G</c> (2^30), <c>T</c> (2^40), <c>P</c> (2^50). A bare number or a
/// <c>B</c> suffix is bytes; decimals are allowed (<c>1.5G</c>) and rounded down to whole bytes.
/// </summary>
public static class ByteSize
{
    private const string Units = "KMGTP";

    /// <summary>Parses <paramref name="text"/> like <c>4G</c>, <c>500M</c>, <c>1T</c> or <c>1048576</c>.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        var s = text?.Trim() ?? "";
        var end = s.Length;
        if (end > 0 && char.ToUpperInvariant(s[end - 1]) == 'B')
        {
            end--;
        }

        if (end > 0 && char.ToUpperInvariant(s[end - 1]) == 'I')
        {
            end--;
        }

        var power = 0;
        if (end > 0 && Units.IndexOf(char.ToUpperInvariant(s[end - 1])) is var unit and >= 0)
        {
            power = unit + 1;
            end--;
        }
        else if (end != s.Length && end != s.Length - 1)
        {
            // "4iB" or "4i": a binary marker without a unit.
            return false;
        }

        if (!decimal.TryParse(s[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var value = number;
        for (var i = 0; i < power; i++)
        {
            value *= 1024;
        }

        if (value > long.MaxValue)
        {
            return false;
        }

        bytes = (long)decimal.Floor(value);
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, throwing <see cref="FormatException"/> on bad input.</summary>
    public static long Parse(string text) =>
        TryParse(text, out var bytes) ? bytes : throw new FormatException($"'{text}' is not a size like 4G, 500M, 1T or a number of bytes.");

    /// <summary>A short human form: <c>4G</c>, <c>1.5G</c>, <c>512M</c>, <c>100B</c>.</summary>
    public static string Format(long bytes)
    {
        var value = (decimal)bytes;
        var power = 0;
        while (Math.Abs(value) >= 1024 && power < Units.Length)
        {
            value /= 1024;
            power++;
        }

        var number = Math.Round(value, 1).ToString("0.#", CultureInfo.InvariantCulture);
        return power == 0 ? number + "B" : number + Units[power - 1];
    }
}
