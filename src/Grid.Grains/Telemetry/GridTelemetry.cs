using System.Diagnostics;

namespace Grid.Telemetry;

/// <summary>The <c>Grid.Orleans</c> activity source and meter names.</summary>
public static class GridTelemetry
{
    public const string Name = "Grid.Orleans";

    public static readonly ActivitySource Source = new(Name);
}
