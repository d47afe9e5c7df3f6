using Grid.Deployment.Tests.Infrastructure;

namespace Grid.Deployment.Tests;

public sealed class DockerfileTests
{
    private static readonly string DockerfilePath = RepoRoot.Combine("src", "Grid.Host", "Dockerfile");

    /// <summary>The instructions of the Dockerfile, with continuation lines joined and comments dropped.</summary>
    private static IReadOnlyList<(string Instruction, string Arguments)> Instructions()
    {
        var result = new List<(string, string)>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(DockerfilePath))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            line = pending + line;
            pending = "";
            if (line.Length > 0)
            {
                var space = line.IndexOf(' ');
                result.Add((line[..space].ToUpperInvariant(), line[(space + 1)..].Trim()));
            }
        }

        return result;
    }

    [Fact]
    public void The_image_exposes_the_http_silo_and_gateway_ports_of_the_deployment()
    {
        var exposed = Instructions().Where(i => i.Instruction == "EXPOSE")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p.Split('/')[0]))
            .ToHashSet();

        var container = K8s.SiloContainer;
        var declared = new[] { "http", "silo", "gateway" }.Select(n => K8s.NamedPort(container, n) ?? -1).ToHashSet();
        Assert.Equal(declared.Order(), exposed.Order());
    }

    [Fact]
    public void The_image_listens_on_all_interfaces_on_the_http_port()
    {
        var env = Instructions().Where(i => i.Instruction == "ENV").Select(i => i.Arguments).ToList();

        Assert.Contains(env, e => e.Contains($"{HostContract.Urls}=http://0.0.0.0:{SiloConfigurationTests.ListenPort()}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_image_builds_with_the_sdk_runs_on_the_aspnet_runtime_and_starts_the_host()
    {
        var instructions = Instructions();
        var stages = instructions.Where(i => i.Instruction == "FROM").Select(i => i.Arguments).ToList();

        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", stages.First(), StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0", stages.Last(), StringComparison.Ordinal);
        var entrypoint = instructions.Last(i => i.Instruction == "ENTRYPOINT").Arguments;
        Assert.Contains($"\"{HostContract.HostAssembly}\"", entrypoint, StringComparison.Ordinal);
        Assert.Contains("Grid.Host.csproj", string.Join('\n', instructions.Where(i => i.Instruction == "RUN").Select(i => i.Arguments)), StringComparison.Ordinal);
    }

    [Fact]
    public void The_image_runs_as_a_non_root_user()
    {
        var user = Instructions().Last(i => i.Instruction == "USER").Arguments;

        Assert.DoesNotContain(user.Split(':')[0], new[] { "root", "0" });
    }

    [Fact]
    public void Every_file_the_build_copies_from_the_context_is_at_the_repository_root()
    {
        var copies = Instructions().Where(i => i.Instruction == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal));
        foreach (var (_, arguments) in copies)
        {
            var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[..^1])
            {
                var path = RepoRoot.Combine(source.TrimEnd('/'));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"the Dockerfile copies {source}, which is not in the repository root");
            }
        }
    }
}
