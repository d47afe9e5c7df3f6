using System.Collections.Immutable;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// What the node's image cache remembers of one image (in <c>image.json</c> next to it): who may use it and when
/// it was last used, for eviction.
/// </summary>
/// <param name="Hex">The digest's hex: the image's key and folder name.</param>
/// <param name="Private">Pulled with credentials: handed only to the twins in <paramref name="Twins"/>.</param>
/// <param name="Twins">Twins that pulled it themselves successfully.</param>
/// <param name="Size">Bytes it takes on disk (layout and unpacked root filesystem).</param>
/// <param name="LastUsed">When a workload last started from it.</param>
internal sealed record CachedImage(string Hex, bool Private, ImmutableArray<long> Twins, long Size, DateTimeOffset LastUsed)
{
    /// <summary>True when <paramref name="twinId"/> may start a workload from it without pulling it again.</summary>
    public bool HandsTo(long twinId) => !Private || Twins.Contains(twinId);
}

/// <summary>An image ready to run: its unpacked bundle (root filesystem and the <c>config.json</c> umoci made).</summary>
/// <param name="Digest">The verified digest, <c>sha256:…</c>.</param>
/// <param name="BundleDir">umoci's bundle: <c>config.json</c> and <c>rootfs/</c> (read-only, owned by the mapped root).</param>
/// <param name="Entrypoint">The image's entrypoint.</param>
/// <param name="Cmd">The image's default arguments.</param>
internal sealed record ReadyImage(string Digest, string BundleDir, ImmutableArray<string> Entrypoint, ImmutableArray<string> Cmd)
{
    /// <summary>The read-only root filesystem, the lower layer of every container of this image.</summary>
    public string RootFs => Path.Combine(BundleDir, "rootfs");
}
