using System.Text.Json;
using Grid.Cli;

namespace Grid.Agent.Tests;

public sealed class SizeAndDurationParsingTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1048576", 1048576L)]
    [InlineData("100B", 100L)]
    [InlineData("1K", 1024L)]
    [InlineData("500M", 500L << 20)]
    [InlineData("4G", 4L << 30)]
    [InlineData("4g", 4L << 30)]
    [InlineData("4GB", 4L << 30)]
    [InlineData("4GiB", 4L << 30)]
    [InlineData("1.5G", 3L << 29)]
    [InlineData("1T", 1L << 40)]
    [InlineData("2P", 2L << 50)]
    public void ParsesSizesInBinaryUnits(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("-1G")]
    [InlineData("4X")]
    [InlineData("4iB")]
    [InlineData("9999999P")]
    public void RejectsWhatIsNotASize(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Theory]
    [InlineData(4L << 30, "4G")]
    [InlineData(3L << 29, "1.5G")]
    [InlineData(512L << 20, "512M")]
    [InlineData(100L, "100B")]
    public void FormatsSizesShort(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("3s", 3000)]
    [InlineData("2m", 120000)]
    [InlineData("1.5", 1500)]
    public void ParsesDurations(string text, int milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var parsed));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), parsed);
    }
}

/// <summary>The <c>grid</c> command line in-process against a real HTTP endpoint.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private FakeController _controller = null!;

    public async Task InitializeAsync() => _controller = await FakeController.StartAsync();

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    [Fact]
    public async Task TwinsCreatePrintsTheKeyAndJsonForScripts()
    {
        var (code, output, _) = await Grid("twins", "create", "--name", "alice");
        Assert.Equal(0, code);
        Assert.Contains("key-3", output, StringComparison.Ordinal);

        (code, output, _) = await Grid("twins", "create", "--name", "alice", "--json");
        Assert.Equal(0, code);
        Assert.Equal("key-3", JsonDocument.Parse(output).RootElement.GetProperty("apiKey").GetString());
    }

    [Fact]
    public async Task ReserveSendsSizesInBytesAndPrintsTheProblemWhenNothingFits()
    {
        var (code, _, error) = await Grid("reserve", "--cru", "2", "--mru", "4G", "--sru", "100G", "--country", "BE", "--strategy", "spread", "--api-key", "key-3");

        Assert.Equal(1, code);
        Assert.Contains("Nothing fits: 0/20 nodes fit: 12 insufficient mru, 8 down (HTTP 409)", error, StringComparison.Ordinal);
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/reservations"]).RootElement;
        Assert.Equal(4L << 30, body.GetProperty("resources").GetProperty("mru").GetInt64());
        Assert.Equal("BE", body.GetProperty("constraints").GetProperty("country").GetString());
        Assert.Equal("spread", body.GetProperty("strategy").GetString());
    }

    [Fact]
    public async Task ReserveSendsSpotAndPriority()
    {
        var (code, _, _) = await Grid("reserve", "--cru", "1", "--mru", "1G", "--spot", "--priority", "90", "--api-key", "key-3");

        Assert.Equal(1, code);   // the fake controller finds nothing that fits
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/reservations"]).RootElement;
        Assert.True(body.GetProperty("spot").GetBoolean());
        Assert.Equal(90, body.GetProperty("priority").GetInt32());
    }

    [Fact]
    public async Task NodesShowRendersSizesForPeople()
    {
        var (code, output, _) = await Grid("nodes", "show", "5", "--api-key", "key-3");
        Assert.Equal(0, code);
        Assert.Contains("cru=8 mru=16G sru=512G hru=0B", output, StringComparison.Ordinal);
        Assert.Contains("status:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingApiKeyOrBadSizeFailsWithoutCallingTheController()
    {
        Environment.SetEnvironmentVariable("GRID_API_KEY", null);
        var (code, _, error) = await Grid("nodes", "list");
        Assert.Equal(2, code);
        Assert.Contains("no api key", error, StringComparison.Ordinal);

        (code, _, error) = await Grid("reserve", "--mru", "4X", "--api-key", "k");
        Assert.NotEqual(0, code);
        Assert.False(_controller.ClientBodies.ContainsKey("POST /api/v1/reservations"));
    }

    [Fact]
    public async Task AgentRegisterDetectsCapacityAndSavesCredentials()
    {
        var dir = Directory.CreateTempSubdirectory("grid-register-").FullName;
        try
        {
            var (code, output, error) = await Grid("agent", "register", "--farm", "1", "--country", "BE", "--city", "Ghent", "--workdir", dir, "--api-key", "key-3");

            Assert.True(code == 0, error);
            Assert.Contains($"node {FakeController.NodeId} registered", output, StringComparison.Ordinal);
            var sent = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/nodes"]).RootElement;
            Assert.Equal(Environment.ProcessorCount, sent.GetProperty("resources").GetProperty("cru").GetInt32());
            Assert.Equal(CapacityDetector.MemoryBytes(), sent.GetProperty("resources").GetProperty("mru").GetInt64());
            Assert.Equal("Ghent", sent.GetProperty("location").GetProperty("city").GetString());
            Assert.Equal(new NodeCredentials(_controller.Url, FakeController.NodeId, FakeController.NodeKey), NodeCredentials.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task PricesQuoteAndBillsPrintTablesOrJson()
    {
        var (code, output, error) = await Grid("prices", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"default\s+100000\s+50000\s+40000", output);
        Assert.Matches(@"4\s+90000\s+45000\s+30000", output);

        (code, output, error) = await Grid("quote", "--cru", "2", "--mru", "4G", "--max-price", "300000", "--strategy", "cheapest", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"pricePer30Days:\s+18\.00 USD", output);   // 180,000,000 minor units, in the currency
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/quotes"]).RootElement;
        Assert.Equal(4L << 30, body.GetProperty("resources").GetProperty("mru").GetInt64());
        Assert.Equal(300_000, body.GetProperty("constraints").GetProperty("maxPricePerHour").GetInt64());
        Assert.Equal("cheapest", body.GetProperty("strategy").GetString());

        (code, output, error) = await Grid("reservations", "bills", "9", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"9-2\s+2\s+2026-11-27T10:00:00\+00:00\s+2026-11-27T11:00:00\+00:00\s+0\.03 USD", output);   // 250,000 to the cent
        (code, output, error) = await Grid("reservations", "bills", "9", "--exact", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"2026-11-27T11:00:00\+00:00\s+0\.0250000 USD", output);   // every minor unit

        (code, output, _) = await Grid("reservations", "bills", "9", "--json", "--api-key", "key-3");
        Assert.Equal(3600, JsonDocument.Parse(output).RootElement[0].GetProperty("lines")[0].GetProperty("seconds").GetInt32());
    }

    [Fact]
    public async Task WorkloadsDeployContainerSendsImagePortsAndVolumesAndLogsPrintsText()
    {
        var image = "127.0.0.1:5000/shop/web@sha256:" + new string('a', 64);
        var (code, output, error) = await Grid(
            "workloads", "deploy", "--reservation", "9", "--name", "web", "--container", image, "--port", "http:8080",
            "--volume", "data:/data", "--volume", "conf:/etc/web:ro", "--arg", "-f", "--env", "GREETING=hi", "--restart", "always", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Contains("workload 12 pending", output, StringComparison.Ordinal);
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/reservations/workloads"]).RootElement;
        Assert.Equal("container", body.GetProperty("type").GetString());
        var container = body.GetProperty("container");
        Assert.Equal(image, container.GetProperty("image").GetString());
        Assert.Equal("http", container.GetProperty("ports")[0].GetProperty("name").GetString());
        Assert.Equal(8080, container.GetProperty("ports")[0].GetProperty("port").GetInt32());
        Assert.Equal("/etc/web", container.GetProperty("mounts")[1].GetProperty("path").GetString());
        Assert.True(container.GetProperty("mounts")[1].GetProperty("readOnly").GetBoolean());
        Assert.Equal("hi", container.GetProperty("env").GetProperty("GREETING").GetString());
        Assert.Equal("always", container.GetProperty("restart").GetString());
        Assert.False(body.TryGetProperty("process", out _));

        (code, _, _) = await Grid("workloads", "deploy", "--reservation", "9", "--name", "data", "--size", "1G", "--api-key", "key-3");
        Assert.Equal(0, code);
        body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/reservations/workloads"]).RootElement;
        Assert.Equal("volume", body.GetProperty("type").GetString());
        Assert.Equal(1L << 30, body.GetProperty("volume").GetProperty("size").GetInt64());

        (code, _, error) = await Grid("workloads", "deploy", "--reservation", "9", "--name", "web", "--container", image, "--port", "8080", "--api-key", "key-3");
        Assert.NotEqual(0, code);
        Assert.Contains("--port '8080' is not NAME:PORT", error, StringComparison.Ordinal);

        (code, output, error) = await Grid("workloads", "logs", "12", "--tail", "3", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Equal("line 1 of workload 12\nline 2 of workload 12\nline 3 of workload 12\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task NamesCreateSendsWorkloadAndUrlBackendsAndDeletePrintsTheProblem()
    {
        var (code, output, error) = await Grid(
            "names", "create", "myshop", "--backend", "12:http", "--backend", "https://static.example/", "--health-path", "/ready", "--health-interval", "2s", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Contains("name myshop claimed: http://myshop.gw.example", output, StringComparison.Ordinal);
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/names"]).RootElement;
        Assert.Equal("myshop", body.GetProperty("name").GetString());
        Assert.Equal(12, body.GetProperty("backends")[0].GetProperty("workloadId").GetInt64());
        Assert.Equal("http", body.GetProperty("backends")[0].GetProperty("port").GetString());
        Assert.Equal("https://static.example/", body.GetProperty("backends")[1].GetProperty("url").GetString());
        Assert.Equal("/ready", body.GetProperty("healthCheck").GetProperty("path").GetString());

        (code, _, error) = await Grid("names", "create", "myshop", "--backend", "twelve", "--api-key", "key-3");
        Assert.NotEqual(0, code);
        Assert.Contains("--backend 'twelve' is neither", error, StringComparison.Ordinal);

        (code, output, _) = await Grid("names", "delete", "myshop", "--api-key", "key-3");
        Assert.Equal(0, code);
        Assert.Contains("name released", output, StringComparison.Ordinal);
        (code, _, error) = await Grid("names", "delete", "other", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("Name other does not exist (HTTP 404)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DepositSendsTheAmountWithTheOperatorKey()
    {
        var (code, output, error) = await Grid("deposit", "3", "70000000", "--api-key", "operator-key");
        Assert.True(code == 0, error);
        Assert.Matches(@"balance:\s+7\.00 USD", output);   // 70,000,000 minor units, shown in the currency
        Assert.Equal(70_000_000, JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/accounts/deposits"]).RootElement.GetProperty("amount").GetInt64());

        (code, _, error) = await Grid("deposit", "3", "5", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("Forbidden: operator key required (HTTP 403)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodesRentReleaseAndRentsPrintTheContractAndItsPriceInTheCurrency()
    {
        var (code, output, error) = await Grid("nodes", "rent", "5", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"id:\s+31", output);
        Assert.Matches(@"nodeId:\s+5", output);
        Assert.Matches(@"pricePerHour:\s+0\.03 USD", output);   // 264,000 minor units, to the cent

        (code, output, error) = await Grid("nodes", "rent", "6", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("Node in use: Node 6 holds other twins' reservations (12, 13)", error, StringComparison.Ordinal);
        Assert.Contains("(HTTP 409)", error, StringComparison.Ordinal);

        (code, output, error) = await Grid("rents", "--exact", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"31\s+5\s+4\s+2026-11-27T10:00:00\+00:00\s+0\.0264000 USD", output);
        (code, output, _) = await Grid("rents", "--json", "--api-key", "key-3");
        Assert.Equal(264_000, JsonDocument.Parse(output).RootElement[0].GetProperty("pricePerHour").GetInt64());

        (code, output, error) = await Grid("nodes", "release", "5", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Contains("rent ended", output, StringComparison.Ordinal);
        (code, _, error) = await Grid("nodes", "release", "6", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("Rent of node 6 was not found. (HTTP 404)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvidersAddListAndEarningsSendTheShareAndPrintTheirAnswers()
    {
        var (code, output, error) = await Grid("providers", "add", "8", "0.3", "--api-key", "operator-key");
        Assert.True(code == 0, error);
        Assert.Matches(@"sharePpm:\s+300000", output);
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/providers"]).RootElement;
        Assert.Equal((8L, 0.3m), (body.GetProperty("twinId").GetInt64(), body.GetProperty("share").GetDecimal()));

        (code, _, error) = await Grid("providers", "add", "8", "0.3", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("Forbidden: operator key required (HTTP 403)", error, StringComparison.Ordinal);

        (code, output, error) = await Grid("providers", "list", "--api-key", "operator-key");
        Assert.True(code == 0, error);
        Assert.Matches(@"8\s+0\.3\s+2026-11-27T09:00:00\+00:00", output);

        (code, output, error) = await Grid("providers", "earnings", "8", "--api-key", "key-3");
        Assert.True(code == 0, error);
        Assert.Matches(@"amount:\s+1\.23 USD", output);   // 12,345,678 minor units, to the cent
        Assert.Matches(@"bills:\s+3", output);
        (code, _, error) = await Grid("providers", "earnings", "9", "--api-key", "key-3");
        Assert.Equal(1, code);
        Assert.Contains("(HTTP 404)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReserveSendsTheSolutionProvider()
    {
        var (code, _, _) = await Grid("reserve", "--cru", "1", "--mru", "1G", "--provider", "8", "--api-key", "key-3");

        Assert.Equal(1, code);   // the fake controller finds nothing that fits
        var body = JsonDocument.Parse(_controller.ClientBodies["POST /api/v1/reservations"]).RootElement;
        Assert.Equal(8, body.GetProperty("solutionProvider").GetInt64());
    }

    [Fact]
    public async Task LedgerKeygenPrintsAPrivateKeyAndTheMatchingPublicKey()
    {
        var (code, output, error) = await Grid("ledger", "keygen");
        Assert.True(code == 0, error);
        var keys = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(parts => parts[0], parts => parts[1]);
        Assert.Matches("^[0-9a-f]{64}$", keys["private-key"]);
        Assert.Equal(LedgerCheckpoints.PublicKeyOf(keys["private-key"]), keys["public-key"]);
        // Each run a new key.
        Assert.DoesNotContain(keys["private-key"], (await Grid("ledger", "keygen")).Output, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output, string Error)> Grid(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await GridCli.RunAsync([.. args, "--api", _controller.Url.ToString()], output, error);
        return (code, output.ToString(), error.ToString());
    }
}
