using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Grid.Bench.Scenarios;

namespace Grid.Bench;

/// <summary>Console table, and <c>benchmarks.md</c> with its plots (<see cref="BenchPlots"/>) for <c>docs/</c>.</summary>
public static class BenchReport
{
    public static string Table(IEnumerable<BenchRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"scenario",-10} {"case",-42} {"metric",-48} {"value",14}  target");
        foreach (var row in rows)
        {
            var mark = row.Met switch { true => "✓", false => "✗", null => "" };
            text.AppendLine(CultureInfo.InvariantCulture, $"{row.Scenario,-10} {row.Case,-42} {row.Metric,-48} {Format(row),14}  {row.Target} {mark}");
        }

        return text.ToString();
    }

    public static async Task WriteAsync(string directory, BenchScale scale, string scenario, List<BenchRow> rows, TimeSpan elapsed)
    {
        Directory.CreateDirectory(directory);
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, " +
            $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
            $"Orleans 10.4.2, Release build, server GC. Scale `{scale.Name}`, {elapsed.TotalSeconds:0} s in all.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project bench/Grid.Bench -- {scenario} --scale {scale.Name} --report docs`");
        md.AppendLine();
        foreach (var group in rows.GroupBy(r => r.Scenario))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"## {group.Key}");
            md.AppendLine();
            md.AppendLine("| case | metric | result | target | met |");
            md.AppendLine("|---|---|---:|---|---|");
            foreach (var row in group)
            {
                var met = row.Met switch { true => "yes", false => "**no**", null => "" };
                md.AppendLine(CultureInfo.InvariantCulture, $"| {row.Case} | {row.Metric} | {Format(row)} | {row.Target} | {met} |");
            }

            md.AppendLine();
        }

        foreach (var (file, alt, svg) in BenchPlots.Draw(rows, FailoverScenario.Timelines))
        {
            await File.WriteAllTextAsync(Path.Combine(directory, file), svg);
            md.AppendLine(CultureInfo.InvariantCulture, $"![{alt}]({file})");
            md.AppendLine();
        }

        var notes = Path.Combine(directory, "benchmarks-notes.md");
        if (File.Exists(notes))
        {
            md.AppendLine(await File.ReadAllTextAsync(notes));
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "benchmarks.md"), md.ToString());
    }

    private static string Format(BenchRow row) => row.Unit switch
    {
        "1/s" => row.Value.ToString("N0", CultureInfo.InvariantCulture) + "/s",
        "ms" => row.Value.ToString("0.0", CultureInfo.InvariantCulture) + " ms",
        "×" => row.Value.ToString("0.000", CultureInfo.InvariantCulture) + " ×",
        "B" => row.Value.ToString("N0", CultureInfo.InvariantCulture) + " B",
        "MiB" => row.Value.ToString("N0", CultureInfo.InvariantCulture) + " MiB",
        _ => row.Value.ToString("0.##", CultureInfo.InvariantCulture) + " " + row.Unit,
    };
}
