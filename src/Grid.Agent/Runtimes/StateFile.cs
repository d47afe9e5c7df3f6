using System.Text.Json;
using Grid.Client;

namespace Grid.Agent.Runtimes;

/// <summary>
/// A list the agent keeps in its work directory (volumes, pod networks, published ports) so that an agent restarted
/// after a crash finds again what the previous one made. Written atomically; a damaged file reads as empty.
/// </summary>
/// <typeparam name="T">One remembered item (a record).</typeparam>
/// <param name="path">The file.</param>
internal sealed class StateFile<T>(string path)
{
    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>The remembered items; empty when there is no file or it cannot be read.</summary>
    public IReadOnlyList<T> Load()
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize<List<T>>(File.ReadAllText(Path), GridJson.Options) ?? [];
        }
        catch (JsonException)
        {
            // A damaged file must not keep the agent from starting; what it listed is then cleaned as unknown.
            return [];
        }
    }

    /// <summary>Replaces the file atomically with <paramref name="items"/>.</summary>
    public void Save(IEnumerable<T> items)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        AtomicFile.WriteAllText(Path, JsonSerializer.Serialize(items.ToList(), GridJson.Indented));
    }
}
