using System.Text.Json;
using Grid.Client;

namespace Grid.Agent;

/// <summary>What <c>grid agent register</c> writes to <c>&lt;workdir&gt;/node.json</c> so the agent can start without flags.</summary>
public sealed record NodeCredentials(Uri Api, long NodeId, string NodeKey)
{
    /// <summary>Name of the credentials file inside the work directory.</summary>
    public const string FileName = "node.json";

    /// <summary>Reads the credentials of <paramref name="workDir"/>, or null when it has none.</summary>
    public static NodeCredentials? Load(string workDir)
    {
        var path = Path.Combine(workDir, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize<NodeCredentials>(File.ReadAllText(path), GridJson.Options) : null;
    }

    /// <summary>Writes the credentials, readable only by the owner because the node key is a secret.</summary>
    public void Save(string workDir)
    {
        Directory.CreateDirectory(workDir);
        var path = Path.Combine(workDir, FileName);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, GridJson.Indented), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
