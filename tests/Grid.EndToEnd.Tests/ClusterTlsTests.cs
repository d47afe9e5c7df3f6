using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>Silos on one PostgreSQL with mutual TLS: only silos holding a certificate of the grid's CA form the cluster.</summary>
[Collection(ClockBound.Name)]
public sealed class ClusterTlsTests(SharedPostgres shared, ITestOutputHelper output)
{
    [Fact]
    public async Task ASiloWithACertificateOfAnotherCaNeverJoinsAndTheOthersKeepServing()
    {
        var postgres = shared.Server;
        await using var grid = new GridProcesses();
        var connection = await postgres.CreateDatabaseAsync("grid_tls");
        using var gridCa = NewCa("grid CA");
        using var strangerCa = NewCa("stranger CA");
        var trusted = WriteSilo(grid.Root, "silo", gridCa, gridCa);
        var stranger = WriteSilo(grid.Root, "stranger", strangerCa, gridCa);

        var clock = Stopwatch.StartNew();
        var silos = new[] { grid.StartSilo([.. Settings(connection), .. trusted]), grid.StartSilo([.. Settings(connection), .. trusted]) };
        await Task.WhenAll(silos.Select(GridProcesses.WaitReadyAsync));
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "observer" }, 201))["apiKey"]!.GetValue<string>();
        var members = new HashSet<string>();
        await Poll.UntilAsync(async () =>
        {
            var active = await ActiveAsync(grid, key);
            members = [.. active];
            return active.Count == 2;
        }, TimeSpan.FromSeconds(60), "the two silos with grid certificates form a cluster");

        var intruder = grid.StartSilo([.. Settings(connection), .. stranger]);
        var active = members;
        try
        {
            await Poll.StaysAsync(async () => (active = await ActiveAsync(grid, key)).SetEquals(members), TimeSpan.FromSeconds(15),
                "the two silos stay the cluster", pause: TimeSpan.FromSeconds(1));
        }
        catch (InvalidOperationException)
        {
            Assert.Fail($"the cluster changed: {string.Join(", ", active)}");
        }

        Assert.False(await GridProcesses.IsReadyAsync(intruder), "the stranger silo must not become ready");
        foreach (var silo in silos)
        {
            using var response = await silo.Http.PostAsJsonAsync("/api/v1/twins", new { name = "still serving" });
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        }

        output.WriteLine($"mutual TLS cluster test: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static async Task<HashSet<string>> ActiveAsync(GridProcesses grid, string key) =>
        [.. (await grid.SendAsync(HttpMethod.Get, "/api/v1/cluster", key, null, 200)).AsArray()
            .Where(s => s!["status"]!.GetValue<string>() == "active").Select(s => s!["address"]!.GetValue<string>())];

    private static string[] Settings(string connection) =>
    [
        "--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connection}", "--Grid:Cluster:AdvertisedAddress=127.0.0.1",
        "--Grid:Cluster:ProbeTimeout=00:00:01", "--Grid:Cluster:TableRefreshTimeout=00:00:02", "--Logging:LogLevel:Default=Warning",
    ];

    private static CertificateRequest Request(string name, ECDsa key) => new($"CN={name}", key, HashAlgorithmName.SHA256);

    private static X509Certificate2 NewCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Request(name, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>Writes a silo certificate signed by <paramref name="issuer"/>, its key and the CA the silo trusts; answers the settings.</summary>
    private static string[] WriteSilo(string root, string name, X509Certificate2 issuer, X509Certificate2 trusted)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Request(name, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.Create(issuer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), RandomNumberGenerator.GetBytes(8));
        var dir = Directory.CreateDirectory(Path.Combine(root, "tls-" + name)).FullName;
        File.WriteAllText(Path.Combine(dir, "tls.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "tls.key"), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(dir, "ca.crt"), trusted.ExportCertificatePem());
        return
        [
            $"--Grid:Cluster:Tls:Certificate={Path.Combine(dir, "tls.crt")}",
            $"--Grid:Cluster:Tls:Key={Path.Combine(dir, "tls.key")}",
            $"--Grid:Cluster:Tls:Ca={Path.Combine(dir, "ca.crt")}",
        ];
    }
}
