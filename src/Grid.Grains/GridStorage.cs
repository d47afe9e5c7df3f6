namespace Grid;

/// <summary>Names shared by the grains and the host's storage configuration.</summary>
public static class GridStorage
{
    /// <summary>The grain storage provider every grid grain persists to.</summary>
    public const string Name = "grid";

    /// <summary>
    /// Writes a grain's state. When the write fails the activation is dropped as soon as it is idle, so memory
    /// never runs ahead of storage (other grains ask a grain what it holds) and an ETag made stale by a write
    /// whose outcome is unknown does not block every later write; the next call reads the durable state.
    /// </summary>
    public static async Task WriteOrDeactivateAsync<T>(this IPersistentState<T> state, IGrainBase grain)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
    }
}
