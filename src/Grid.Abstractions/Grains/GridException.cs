namespace Grid.Grains;

/// <summary>A client mistake found inside a grain (e.g. workloads exceeding their reservation); maps to 4xx.</summary>
[GenerateSerializer, Alias("grid.GridRequestException")]
public sealed class GridRequestException : Exception
{
    public GridRequestException()
    {
    }

    public GridRequestException(string message)
        : base(message)
    {
    }

    public GridRequestException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public GridRequestException(int status, string title, string message)
        : base(message)
    {
        Status = status;
        Title = title;
    }

    /// <summary>HTTP status to answer with. Default: 409.</summary>
    [Id(0)]
    public int Status { get; init; } = 409;

    [Id(1)]
    public string Title { get; init; } = "Conflict";
}
