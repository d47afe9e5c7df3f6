using System.Text.Json.Nodes;

namespace Grid.Console.Tests;

/// <summary>One query of one panel of a shipped Grafana dashboard (k8s/grafana/*.json).</summary>
public sealed record PanelQuery(string Dashboard, string Panel, string Expr)
{
    /// <summary>The expression as Prometheus gets it from Grafana, with the dashboards' only variable filled in.</summary>
    public string PromQl(string rateInterval) => Expr.Replace("$__rate_interval", rateInterval, StringComparison.Ordinal);

    public override string ToString() => $"{Dashboard} / {Panel}: {Expr}";
}

public static class Dashboards
{
    public static string Folder => Path.Combine(RepoRoot(), "k8s", "grafana");

    public static IReadOnlyList<string> Files => [.. Directory.EnumerateFiles(Folder, "*.json").Order(StringComparer.Ordinal)];

    /// <summary>The Prometheus job the tests scrape the host as (the dashboards' queries do not name it).</summary>
    public const string Job = "grid-silos";

    /// <summary>What Grafana would put for <c>$__rate_interval</c> in the tests' short scenarios.</summary>
    public const string RateInterval = "2m";

    /// <summary>The economy dashboard's uid: its panels need a billing scenario of their own.</summary>
    public const string Economy = "grid-economy";

    /// <summary>Every panel query of the dashboards whose uid <paramref name="which"/> accepts.</summary>
    public static IReadOnlyList<PanelQuery> Queries(Func<string, bool> which) =>
    [
        .. Files.SelectMany(file =>
        {
            var dashboard = JsonNode.Parse(File.ReadAllText(file))!;
            if (!which(dashboard["uid"]!.GetValue<string>()))
            {
                return [];
            }

            var title = dashboard["title"]!.GetValue<string>();
            return dashboard["panels"]!.AsArray().SelectMany(panel => panel!["targets"]!.AsArray()
                .Select(target => new PanelQuery(title, panel["title"]!.GetValue<string>(), target!["expr"]!.GetValue<string>())));
        }),
    ];

    /// <summary>The panel queries of the dashboards <paramref name="which"/> accepts that return no data, as an assertion message.</summary>
    public static async Task<string?> PanelsWithoutDataAsync(PrometheusServer prometheus, Func<string, bool> which)
    {
        var queries = Queries(which);
        Assert.NotEmpty(queries);
        var missing = new List<string>();
        foreach (var query in queries)
        {
            if ((await prometheus.QueryAsync(query.PromQl(RateInterval))).Count == 0)
            {
                missing.Add(query.ToString());
            }
        }

        return missing.Count == 0 ? null : $"{missing.Count} of {queries.Count} panel queries without data:{Environment.NewLine}{string.Join(Environment.NewLine, missing)}";
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grid.Orleans.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Grid.Orleans.sln not found above the test output.");
    }
}
