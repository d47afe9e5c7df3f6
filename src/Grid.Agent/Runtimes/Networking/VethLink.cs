namespace Grid.Agent.Runtimes.Networking;

/// <summary>A network link of the host's root namespace and its alias (the pod namespace a grid veth belongs to).</summary>
/// <param name="Name">The link's name.</param>
/// <param name="Alias">Its alias, when it has one.</param>
internal sealed record VethLink(string Name, string? Alias)
{
    /// <summary>The links of the root namespace (<c>ip -o link show</c>).</summary>
    public static async Task<IReadOnlyList<VethLink>> ListAsync(CancellationToken cancellationToken)
    {
        var output = await HostCommand.CheckedAsync("ip", ["-o", "link", "show"], cancellationToken);
        var links = new List<VethLink>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "12: gv1234@if11: <BROADCAST,…> mtu 1500 … \    link/ether … \    alias grid-1a2b3c4d-n7-r1-e1"
            var parts = line.Split(':', 3);
            if (parts.Length < 3)
            {
                continue;
            }

            var name = parts[1].Trim().Split('@')[0];
            var aliasAt = line.IndexOf(" alias ", StringComparison.Ordinal);
            var alias = aliasAt < 0 ? null : line[(aliasAt + 7)..].Trim().Split(' ', '\\')[0];
            links.Add(new VethLink(name, alias));
        }

        return links;
    }
}
