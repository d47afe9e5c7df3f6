namespace Grid;

/// <summary>Names shared by the grains and the host's storage configuration.</summary>
public static class GridStorage
{
    /// <summary>The grain storage provider every grid grain persists to.</summary>
    public const string Name = "grid";
}
