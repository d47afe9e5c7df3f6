using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Grid.Agent.Devices;

namespace Grid.Agent.Tests.Devices;

/// <summary>The agent's GPU parsing and the runc config edit, as pure functions over text and a fake sysfs.</summary>
public sealed class GpuDeviceTests : IDisposable
{
    private readonly TestWorkDir _root = new();

    public void Dispose() => _root.Dispose();

    [Theory]
    [InlineData("id=0000:01:00.0,vendor=NVIDIA,device=A100,memory=40960", "0000:01:00.0|NVIDIA|A100|40960")]
    [InlineData("vendor=AMD, id=0000:03:00.0 ,device=Radeon RX 7900", "0000:03:00.0|AMD|Radeon RX 7900|0")]
    public void GpuOptionsAreRead(string text, string expected)
    {
        var (gpu, error) = GpuOption.Parse(text);
        Assert.Null(error);
        Assert.Equal(expected, $"{gpu!.Id}|{gpu.Vendor}|{gpu.Device}|{gpu.Memory}");
    }

    [Theory]
    [InlineData("id=0000:01:00.0,vendor=NVIDIA", "required")]
    [InlineData("id=0000:01:00.0,vendor=NVIDIA,device=A100,memory=lots", "memory")]
    [InlineData("id=0000:01:00.0,vendor=NVIDIA,device=A100,colour=green", "unknown field 'colour'")]
    [InlineData("id=a,id=b,vendor=NVIDIA,device=A100", "each once")]
    public void BadGpuOptionsSayWhatIsWrong(string text, string problem)
    {
        var (gpu, error) = GpuOption.Parse(text);
        Assert.Null(gpu);
        Assert.Contains(problem, error, StringComparison.Ordinal);
    }

    [Fact]
    public void PciIdsNameTheWantedVendorsAndDevices()
    {
        string[] lines =
        [
            "# comment",
            "10de  NVIDIA Corporation",
            "\t20b0  GA100 [A100 SXM4 40GB]",
            "\t20f1  GA100 [A100 PCIe 40GB]",
            "\t\t10de 145f  A100 subsystem",
            "1002  Advanced Micro Devices, Inc. [AMD/ATI]",
            "\t744c  Navi 31 [Radeon RX 7900 XT/7900 XTX]",
            "C 03  Display controller",
            "\t00  VGA compatible controller",
        ];
        var names = GpuDetector.ParsePciIds(lines, new HashSet<(string, string)> { ("10de", "20f1"), ("1002", "744c") });
        Assert.Equal(("NVIDIA Corporation", "GA100 [A100 PCIe 40GB]"), names[("10de", "20f1")]);
        Assert.Equal(("Advanced Micro Devices, Inc. [AMD/ATI]", "Navi 31 [Radeon RX 7900 XT/7900 XTX]"), names[("1002", "744c")]);
        Assert.Equal(2, names.Count);
    }

    [Fact]
    public void NvidiaSmiRowsAreKeyedBySysfsAddresses()
    {
        var gpus = GpuDetector.ParseNvidiaSmi("00000000:01:00.0, NVIDIA A100-PCIE-40GB, 40960\n00000000:41:00.0, NVIDIA GeForce RTX 4090, 24564\nbad line\n");
        Assert.Equal(("NVIDIA A100-PCIE-40GB", 40960L), gpus["0000:01:00.0"]);
        Assert.Equal(("NVIDIA GeForce RTX 4090", 24564L), gpus["0000:41:00.0"]);
        Assert.Equal(2, gpus.Count);
        Assert.Empty(GpuDetector.ParseNvidiaSmi(null));
    }

    [Fact]
    public async Task SysfsDisplayDevicesAreFoundAndOthersIgnored()
    {
        var pci = Path.Combine(_root.Path, "pci");
        Device(pci, "0000:00:02.0", "0x030000", "0x8086", "0x46a6");   // an Intel display controller
        Device(pci, "0000:00:1f.3", "0x040380", "0x8086", "0x51c8");   // audio: not a GPU
        Device(pci, "0000:00:01.0", "0x030000", "0x1234", "0x1111");   // the boot display (a hypervisor's VGA): not handed out
        File.WriteAllText(Path.Combine(pci, "0000:00:01.0", "boot_vga"), "1\n");
        var gpus = await GpuDetector.DetectAsync(pci);
        var gpu = Assert.Single(gpus);
        Assert.Equal("0000:00:02.0", gpu.Id);
        Assert.False(string.IsNullOrEmpty(gpu.Vendor));   // the name from pci.ids when installed, else the hex id
        Assert.Empty(await GpuDetector.DetectAsync(Path.Combine(_root.Path, "none")));
    }

    [Fact]
    public void TheRuncConfigGetsTheDevicesAndTheirCgroupRulesBesideWhatItHad()
    {
        var linux = JsonNode.Parse("""{"resources":{"devices":[{"allow":false,"access":"rwm"}],"pids":{"limit":1024}},"namespaces":[]}""")!.AsObject();
        GpuDeviceNodes.Apply(linux, [new DeviceNode("/dev/nvidia0", 195, 0), new DeviceNode("/dev/nvidiactl", 195, 255)]);

        var devices = linux["devices"]!.AsArray();
        Assert.Equal(["/dev/nvidia0", "/dev/nvidiactl"], devices.Select(d => d!["path"]!.GetValue<string>()));
        Assert.Equal(("c", 195L, 255L), (devices[1]!["type"]!.GetValue<string>(), devices[1]!["major"]!.GetValue<long>(), devices[1]!["minor"]!.GetValue<long>()));
        var rules = linux["resources"]!["devices"]!.AsArray();
        Assert.Equal(3, rules.Count);
        Assert.False(rules[0]!["allow"]!.GetValue<bool>());   // the deny-all rule stays first
        Assert.True(rules[2]!["allow"]!.GetValue<bool>());
        Assert.Equal(1024, linux["resources"]!["pids"]!["limit"]!.GetValue<long>());

        // No devices: the config is left as it was.
        var plain = JsonNode.Parse("""{"resources":{}}""")!.AsObject();
        GpuDeviceNodes.Apply(plain, []);
        Assert.Equal("""{"resources":{}}""", plain.ToJsonString());
    }

    [Fact]
    public void HostDeviceNodesComeFromSysfsAndNvidiasProcFilesWhenTheyExist()
    {
        var sys = Path.Combine(_root.Path, "sys");
        var proc = Path.Combine(_root.Path, "proc");
        var dev = Path.Combine(_root.Path, "dev");
        Directory.CreateDirectory(Path.Combine(sys, "bus", "pci", "devices", "0000:01:00.0", "drm", "card1"));
        Directory.CreateDirectory(Path.Combine(sys, "bus", "pci", "devices", "0000:01:00.0", "drm", "renderD129"));
        File.WriteAllText(Path.Combine(sys, "bus", "pci", "devices", "0000:01:00.0", "drm", "card1", "dev"), "226:1\n");
        File.WriteAllText(Path.Combine(sys, "bus", "pci", "devices", "0000:01:00.0", "drm", "renderD129", "dev"), "226:129\n");
        Directory.CreateDirectory(Path.Combine(proc, "driver", "nvidia", "gpus", "0000:01:00.0"));
        File.WriteAllText(Path.Combine(proc, "driver", "nvidia", "gpus", "0000:01:00.0", "information"), "Model: A100\nDevice Minor: \t 3\n");
        Directory.CreateDirectory(Path.Combine(dev, "dri"));
        foreach (var node in new[] { Path.Combine("dri", "card1"), Path.Combine("dri", "renderD129"), "nvidia3", "nvidiactl" })
        {
            File.WriteAllText(Path.Combine(dev, node), "");
        }

        var nodes = GpuDeviceNodes.OnHost(["0000:01:00.0", "0000:09:00.0"], sys, proc, dev);
        Assert.Equal(
            [new DeviceNode("/dev/dri/card1", 226, 1), new DeviceNode("/dev/dri/renderD129", 226, 129), new DeviceNode("/dev/nvidia3", 195, 3), new DeviceNode("/dev/nvidiactl", 195, 255)],
            nodes.AsEnumerable());

        // This machine has no GPU: nothing is given (the ids still reach the container in GRID_GPU_IDS).
        Assert.Empty(GpuDeviceNodes.OnHost(["0000:77:00.0"]));
    }

    private static void Device(string pci, string id, string cls, string vendor, string device)
    {
        var dir = Path.Combine(pci, id);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "class"), cls + "\n");
        File.WriteAllText(Path.Combine(dir, "vendor"), vendor + "\n");
        File.WriteAllText(Path.Combine(dir, "device"), device + "\n");
    }
}
