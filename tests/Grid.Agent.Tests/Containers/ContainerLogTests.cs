using Grid.Agent.Runtimes.Containers;

namespace Grid.Agent.Tests.Containers;

/// <summary>A container's bounded output file and image references, on real files and strings.</summary>
public sealed class ContainerLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grid-container-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void OutputIsReadInBoundedPiecesAndCutToItsTailWithoutConfusingReaders()
    {
        var log = new ContainerLog(_dir);
        Assert.Null(log.Read(0));
        var line = new string('x', 1023) + "\n";
        File.WriteAllText(log.File, string.Concat(Enumerable.Repeat(line, 2 * 1024 + 512)));

        var first = log.Read(0)!;
        Assert.Equal(ContainerLog.MaxChunk, first.Text.Length);
        Assert.Equal(ContainerLog.MaxChunk, first.Next);

        log.Trim();

        Assert.Equal(ContainerLog.Keep, new FileInfo(log.File).Length);
        var written = (2L * 1024 + 512) * 1024;
        var resumed = log.Read(first.Next)!;
        Assert.Equal(written - ContainerLog.Keep + ContainerLog.MaxChunk, resumed.Next);
        File.AppendAllText(log.File, "tail\n");
        var offset = written;
        Assert.Equal("tail\n", log.Read(offset)!.Text);
        Assert.Null(log.Read(offset + 5));
        Assert.EndsWith("tail\n", log.Tail(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:5000/shop/web@sha256:AB12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", false, "127.0.0.1:5000")]
    [InlineData("registry.example/a/b/c@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", false, "registry.example")]
    [InlineData("http://127.0.0.1:8000/web.tar@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", true, null)]
    public void APinnedReferenceIsRead(string image, bool archive, string? registry)
    {
        var reference = ImageReference.Parse(image)!;

        Assert.Equal((archive, registry), (reference.IsArchive, reference.Registry));
        Assert.Equal("sha256:" + string.Concat(Enumerable.Repeat("ab12", 16)), reference.Digest);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("127.0.0.1:5000/shop/web:latest")]
    [InlineData("127.0.0.1:5000/shop/web@sha256:ab12")]
    [InlineData("web@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")]
    [InlineData("ftp://host/web.tar@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")]
    [InlineData("127.0.0.1:5000/shop/web@sha512:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")]
    public void AReferenceWithoutAWellFormedDigestIsRefused(string? image) => Assert.Null(ImageReference.Parse(image));
}
