namespace Grid.Scheduling;

/// <summary>Anti-affinity is per tenant: two reservations of one twin in one group never share a node.</summary>
public static class AntiAffinity
{
    public static string Key(long twinId, string group) => $"{twinId}/{group}";
}
