using System.Text.Json.Nodes;
using Grid.EndToEnd.Tests;
using Grid.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Grid.Console.Tests;

/// <summary>
/// The console in a real headless Chromium (the Debian package, driven by Playwright) against a real host
/// process and real agents: the overview shows what the API says, a tenant reserves through the form, a farmer
/// drains a node, and a killed agent's node turns down on the open page without a reload.
/// </summary>
public sealed class ConsoleBrowserTests(ITestOutputHelper output)
{
    private static readonly string[] AgentOptions = ["--heartbeat-interval", "500ms"];
    private const string OperatorKey = "operator-key-of-the-console-test";
    private const long MinorUnits = 10_000_000;
    private const string NameOfTenant = "console-demo";

    [Fact]
    public async Task OverviewMatchesTheApiTenantReservesFarmerDrainsAndAKilledNodeTurnsDownLive()
    {
        await using var grid = new GridProcesses();
        // Bills every 10 s, so the tenant's bills and the farmer's earnings appear while the test runs.
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
            "--Grid:Health:ScanInterval=00:00:00.200", "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Billing:Cycle=00:00:10",
            "--Grid:Billing:SettleDelay=00:00:00", "--Grid:Billing:TickInterval=00:00:00.500", $"--Grid:Billing:OperatorKey={OperatorKey}");
        var farmer = await TwinAsync(grid, "farmer");
        var tenant = await TwinAsync(grid, "tenant");
        var tenantId = (await grid.SendAsync(HttpMethod.Get, "/api/v1/account", tenant, null, 200))["twinId"]!.GetValue<long>();
        await grid.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{tenantId}/deposits", OperatorKey, new { amount = 100 * MinorUnits }, 200);
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", farmer, new
        {
            name = "browser-farm",
            publicIps = new[] { new { ip = "185.69.166.10/24", gateway = "185.69.166.1" }, new { ip = "185.69.166.11/24", gateway = "185.69.166.1" } },
        }, 201))["farmId"]!.GetValue<long>();
        var agents = new Dictionary<long, ChildProcess>();
        for (var i = 0; i < 3; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmer, new
            {
                farmId,
                resources = new { cru = 4 << i, mru = 8L << 30, sru = 100L << 30, hru = 1L << 40 },
                location = new { country = i == 2 ? "Egypt" : "Belgium", city = i == 2 ? "Cairo" : "Ghent" },
            }, 201);
            var nodeId = node["nodeId"]!.GetValue<long>();
            agents[nodeId] = grid.StartAgent(nodeId, node["nodeKey"]!.GetValue<string>(), Path.Combine(grid.Root, $"agent{i}"), AgentOptions);
        }

        await Poll.UntilAsync(async () => (await OverviewAsync(grid))["nodes"]!["up"]!.GetValue<int>() == 3,
            TimeSpan.FromSeconds(60), "the three agents' nodes are up");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath(),
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            Headless = true,
        });
        SetDefaultExpectTimeout(30_000);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 }, BaseURL = grid.Api.ToString() });
        await page.GotoAsync("/");

        // The overview's numbers are the API's.
        await Expect(page.Locator("#stat-up")).ToHaveTextAsync("3");
        var overview = await OverviewAsync(grid);
        await Expect(page.Locator("#stat-total")).ToHaveTextAsync(overview["nodes"]!["total"]!.ToString());
        await Expect(page.Locator("#stat-down")).ToHaveTextAsync(overview["nodes"]!["down"]!.ToString());
        await Expect(page.Locator("#stat-farms")).ToHaveTextAsync(overview["farms"]!.AsArray().Count.ToString());
        await Expect(page.Locator("#stat-countries")).ToHaveTextAsync("2");
        var ownerNodes = (await grid.SendAsync(HttpMethod.Get, "/api/v1/nodes", farmer, null, 200)).AsArray();
        var totalCru = ownerNodes.Sum(n => n!["total"]!["cru"]!.GetValue<long>());
        await Expect(page.Locator("#capacity li[data-unit=cru] .label")).ToContainTextAsync($"of {totalCru} cores used");
        await Expect(page.Locator("#capacity li[data-unit=ipv4] .label")).ToContainTextAsync("0 addresses of 2 addresses used");
        await Expect(page.Locator("#nodes tbody tr")).ToHaveCountAsync(3);
        await Expect(page.Locator("#countries tr[data-country=Belgium] td").First).ToHaveTextAsync("2");
        foreach (var nodeId in agents.Keys)
        {
            await Expect(page.Locator($"#events li[data-kind=node-up][data-node-id='{nodeId}']").First).ToBeVisibleAsync();
        }

        await ShotAsync(page, "overview");

        // A tenant reserves through the form: it reviews first, then places, and the reservation appears.
        await SignInAsync(page, tenant);
        await page.GetByLabel("Cores (cru)").FillAsync("2");
        await page.GetByLabel("RAM GiB (mru)").FillAsync("2");
        await page.GetByLabel("Public IPv4").FillAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review" }).ClickAsync();
        await Expect(page.Locator("#quote-text")).ToContainTextAsync("Reserve 2 cru, 2 GiB, 1 ipv4");
        var quote = await grid.SendAsync(HttpMethod.Post, "/api/v1/quotes", tenant, new { resources = new { cru = 2, mru = 2L << 30, ipv4 = 1 }, strategy = "binpack" }, 200);
        await Expect(page.Locator("#quote-text")).ToContainTextAsync($"{Money(quote["pricePerHour"]!.GetValue<long>())} USD per hour");
        await Expect(page.Locator("#balance")).ToHaveTextAsync($"{Money(100 * MinorUnits)} USD");
        // A name of the tenant's, claimed once the untouched balance was seen (names are billed), routed to a fixed URL:
        // this grid has no gateway node, so no health probe passes.
        var backendUrl = $"http://127.0.0.1:{grid.Api.Port}";
        await grid.SendAsync(HttpMethod.Post, "/api/v1/names", tenant, new { name = NameOfTenant, backends = new[] { new { url = backendUrl } } }, 201);
        Assert.Equal(0, (await grid.SendAsync(HttpMethod.Get, "/api/v1/reservations", tenant, null, 200))["total"]!.GetValue<int>());
        await page.GetByRole(AriaRole.Button, new() { Name = "Place reservation" }).ClickAsync();
        await Expect(page.Locator("#notice")).ToContainTextAsync("is active on node");
        var reservation = (await grid.SendAsync(HttpMethod.Get, "/api/v1/reservations", tenant, null, 200))["items"]!.AsArray().Single()!;
        var reservationId = reservation["reservationId"]!.GetValue<long>();
        var placedOn = reservation["nodeId"]!.GetValue<long>();
        // Its workloads: a process the agent runs, and a zdb no node runs (a reason and a message say why).
        var webId = await DeployAsync(grid, tenant, reservationId, new
        {
            name = "web",
            type = "process",
            process = new { command = "/bin/sh", args = new[] { "-c", "exec sleep 600" } },
        });
        var dbId = await DeployAsync(grid, tenant, reservationId, new { name = "db", type = "zdb" });
        var row = page.Locator($"#reservations tr[data-reservation-id='{reservationId}']");
        await Expect(row.Locator(".reservation-state")).ToHaveTextAsync("active");
        await Expect(row).ToContainTextAsync($"#{placedOn}");
        await Expect(row.Locator(".price")).ToHaveAttributeAsync("data-amount", reservation["pricePerHour"]!.ToString());
        await Expect(row.Locator(".reservation-priority")).ToHaveTextAsync("50");
        await row.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(page.Locator("#detail-events li").First).ToBeVisibleAsync();

        // Its bills: the detail shows what the API bills say (a bill never changes once made, so ids are compared).
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/bills", tenant, null, 200)).AsArray().Count > 0,
            TimeSpan.FromSeconds(60), "the reservation's first bill");
        await row.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        var shownBill = page.Locator("#bills tbody tr").First;
        await Expect(shownBill).ToBeVisibleAsync();
        var apiBills = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/bills", tenant, null, 200)).AsArray();
        var shownBillId = await shownBill.GetAttributeAsync("data-bill-id");
        var bill = apiBills.Single(b => b!["billId"]!.ToString() == shownBillId);
        await Expect(shownBill.Locator(".amount")).ToHaveTextAsync(Money(bill!["amount"]!.GetValue<long>()));
        // The workloads as the API reports them, live in the open detail.
        var web = page.Locator($"#workloads tr[data-workload-id='{webId}']");
        await Expect(web.Locator(".workload-state")).ToHaveTextAsync("running");
        var db = page.Locator($"#workloads tr[data-workload-id='{dbId}']");
        await Expect(db.Locator(".workload-state")).ToHaveTextAsync("unsupported");
        var dbInfo = await grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{dbId}", tenant, null, 200);
        await Expect(db.Locator(".workload-reason")).ToHaveTextAsync($"{dbInfo["reason"]} {dbInfo["message"]}");
        await web.GetByRole(AriaRole.Button, new() { Name = $"Show the logs of workload web #{webId}" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Logs of web #{webId}" })).ToBeVisibleAsync();
        var logs = await LogsAsync(grid, tenant, webId);
        await Expect(page.Locator("pre#workload-logs")).ToHaveTextAsync(logs.Length == 0 ? "(no output yet)" : logs);

        // The tenant's name: its URL as a link, its backend with the health the API reports, its traffic and bills.
        var name = await grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{NameOfTenant}", tenant, null, 200);
        var nameRow = page.Locator($"#names-table tr[data-name='{NameOfTenant}']");
        var url = name["url"]!.GetValue<string>();
        await Expect(nameRow.GetByRole(AriaRole.Link, new() { Name = url })).ToHaveAttributeAsync("href", url);
        var backend = name["backends"]!.AsArray().Single()!;
        Assert.Equal("unhealthy", backend["state"]!.GetValue<string>());
        await Expect(nameRow.Locator(".backend")).ToHaveTextAsync($"{backendUrl} unhealthy {backend["reason"]}");
        await Expect(nameRow.Locator(".name-traffic")).ToHaveTextAsync("0 B in / 0 B out");
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{NameOfTenant}/bills", tenant, null, 200)).AsArray().Count > 0,
            TimeSpan.FromSeconds(60), "the name's first bill");
        await nameRow.GetByRole(AriaRole.Button, new() { Name = $"Show the bills of name {NameOfTenant}" }).ClickAsync();
        var nameLine = page.Locator("#name-bills-table tbody tr[data-kind=name]").First;
        await Expect(nameLine).ToBeVisibleAsync();
        var nameBillId = await nameLine.GetAttributeAsync("data-bill-id");
        var nameBill = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{NameOfTenant}/bills", tenant, null, 200)).AsArray()
            .Single(b => b!["billId"]!.ToString() == nameBillId)!;
        var line = nameBill["lines"]!.AsArray().Single(l => l!["kind"]?.GetValue<string>() == "name")!;
        await Expect(nameLine.Locator(".line-kind")).ToHaveTextAsync("name held");
        await Expect(nameLine.Locator(".usage")).ToHaveTextAsync($"{line["seconds"]} s");
        await Expect(nameLine.Locator(".amount")).ToHaveTextAsync(Money(line["amount"]!.GetValue<long>()));

        // The public overview counts the address the reservation took.
        await Expect(page.Locator("#capacity li[data-unit=ipv4] .label")).ToContainTextAsync("1 addresses of 2 addresses used");
        await ShotAsync(page, "tenant");

        // The farmer drains the node holding it: the button turns the node draining and the reservation moves off.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await SignInAsync(page, farmer);
        var farmerRow = page.Locator($"#my-nodes tr[data-node-id='{placedOn}']");
        await Expect(farmerRow.Locator(".allocations")).ToHaveTextAsync("1");
        await farmerRow.GetByRole(AriaRole.Button, new() { Name = $"Drain node {placedOn}" }).ClickAsync();
        await Expect(farmerRow.Locator(".node-status")).ToHaveTextAsync("draining");
        Assert.True((await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{placedOn}", farmer, null, 200))["draining"]!.GetValue<bool>());
        long movedTo = 0;
        await Poll.UntilAsync(async () => (movedTo = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}", tenant, null, 200))["nodeId"]!.GetValue<long>()) != placedOn,
            TimeSpan.FromSeconds(30), "the reservation moves off the drained node");
        await Expect(farmerRow.Locator(".allocations")).ToHaveTextAsync("0");
        await Expect(page.Locator($"#events li[data-kind=moved][data-node-id='{movedTo}']").First).ToBeVisibleAsync();
        // What the first node earned for serving the reservation until it moved off, as the API reports it.
        var today = DateTimeOffset.UtcNow.Date;
        var earningsCell = farmerRow.Page.Locator($"#earnings-table tr[data-node-id='{placedOn}'] td[data-day='{today:yyyy-MM-dd}']");
        await Poll.UntilAsync(async () =>
        {
            var earnings = await grid.SendAsync(HttpMethod.Get,
                $"/api/v1/farms/{farmId}/earnings?from={today:yyyy-MM-dd}T00:00:00Z&to={today.AddDays(1):yyyy-MM-dd}T00:00:00Z", farmer, null, 200);
            var earned = earnings["nodes"]!.AsArray().Where(n => n!["nodeId"]!.GetValue<long>() == placedOn).Sum(n => n!["amount"]!.GetValue<long>());
            return earned > 0 && await earningsCell.CountAsync() == 1 && await earningsCell.GetAttributeAsync("data-amount") == $"{earned}";
        }, TimeSpan.FromSeconds(60), $"node {placedOn}'s earnings on the page equal the API's");
        await ShotAsync(page, "farmer");

        // kill -9 of another node's agent: the open page shows it down without a reload.
        var victim = agents.Keys.Single(id => id != placedOn && id != movedTo);
        GridProcesses.KillQuietly(agents[victim].Pid);
        var publicRow = page.Locator($"#nodes tr[data-node-id='{victim}'] .node-status");
        await Expect(publicRow).ToHaveTextAsync("down");
        await Expect(page.Locator("#stat-down")).ToHaveTextAsync("1");
        await Expect(page.Locator($"#my-nodes tr[data-node-id='{victim}'] .node-status")).ToHaveTextAsync("down");
        await Expect(page.Locator($"#events li[data-kind=node-down][data-node-id='{victim}']").First).ToBeVisibleAsync();
        // Each event is shown once, however the polls interleave.
        Assert.True(await page.EvaluateAsync<bool>(
            "() => { const seqs = [...document.querySelectorAll('#events li')].map(li => li.dataset.seq); return seqs.length > 0 && new Set(seqs).size === seqs.length; }"));
        Assert.Equal(1, (await OverviewAsync(grid))["nodes"]!["down"]!.GetValue<int>());
        await ShotAsync(page, "node-down");

        // From a phone's width up: nothing forces the page wider than the screen.
        await page.SetViewportSizeAsync(390, 844);
        await Expect(page.Locator("#stat-down")).ToHaveTextAsync("1");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            "the page scrolls sideways at 390 px");
        await ShotAsync(page, "phone");
    }

    /// <summary>Minor units as the console writes them (at least two decimals, at most seven).</summary>
    private static string Money(long minor)
    {
        var fraction = (Math.Abs(minor) % MinorUnits).ToString("D7", System.Globalization.CultureInfo.InvariantCulture).TrimEnd('0');
        return $"{(minor < 0 ? "-" : "")}{Math.Abs(minor) / MinorUnits}.{fraction.PadRight(2, '0')}";
    }

    private static async Task<long> DeployAsync(GridProcesses grid, string key, long reservationId, object workload) =>
        (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, workload, 201))["workloadId"]!.GetValue<long>();

    /// <summary>A workload's logs as the API serves them (text, not JSON).</summary>
    private static async Task<string> LogsAsync(GridProcesses grid, string key, long workloadId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(grid.Api, $"/api/v1/workloads/{workloadId}/logs?tail=200"));
        request.Headers.Authorization = new("Bearer", key);
        using var response = await grid.Http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task SignInAsync(IPage page, string apiKey)
    {
        await page.GetByLabel("API key").FillAsync(apiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#mine")).ToBeVisibleAsync();
        // The key stays in this tab's session storage only.
        Assert.Equal(apiKey, await page.EvaluateAsync<string>("() => sessionStorage.getItem('grid.apiKey')"));
        Assert.Null(await page.EvaluateAsync<string?>("() => localStorage.getItem('grid.apiKey')"));
    }

    private async Task ShotAsync(IPage page, string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"console-{name}.png");
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    private static async Task<string> TwinAsync(GridProcesses grid, string name) =>
        (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name }, 201))["apiKey"]!.GetValue<string>();

    private static Task<JsonNode> OverviewAsync(GridProcesses grid) =>
        grid.SendAsync(HttpMethod.Get, "/api/v1/grid/overview", null, null, 200);

    /// <summary>The Debian chromium package (.ci/run installs it); Playwright drives it instead of a downloaded browser.</summary>
    public static string ChromiumPath() =>
        Environment.GetEnvironmentVariable("GRID_CHROMIUM") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
        : throw new InvalidOperationException("Chromium is missing: apt-get install chromium (or set GRID_CHROMIUM).");
}
