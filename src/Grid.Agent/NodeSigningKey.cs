using Grid.Security;

namespace Grid.Agent;

/// <summary>
/// The node's own Ed25519 key pair, made by <c>grid agent register</c>. The private key is written to
/// <c>&lt;workdir&gt;/node.key</c> (owner-only) and never sent anywhere; the controller learns the public key at
/// registration and checks the signature of every heartbeat with it.
/// </summary>
public sealed record NodeSigningKey(string PrivateKey, string PublicKey)
{
    public const string FileName = "node.key";

    /// <summary>Makes a new key pair and saves its private key in <paramref name="workDir"/>, readable by the owner only.</summary>
    public static NodeSigningKey Create(string workDir)
    {
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        Directory.CreateDirectory(workDir);
        AtomicFile.WriteAllText(Path.Combine(workDir, FileName), privateKey + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new NodeSigningKey(privateKey, publicKey);
    }

    /// <summary>The private key saved in <paramref name="workDir"/>, or null when there is none.</summary>
    public static string? LoadPrivateKey(string workDir)
    {
        var path = Path.Combine(workDir, FileName);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}
