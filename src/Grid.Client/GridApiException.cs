namespace Grid.Client;

/// <summary>The controller answered with an error; carries its RFC 7807 ProblemDetails.</summary>
public sealed class GridApiException(int status, string title, string? detail)
    : Exception(detail is null ? $"{title} ({status})" : $"{title} ({status}): {detail}")
{
    /// <summary>HTTP status code.</summary>
    public int Status { get; } = status;

    /// <summary>ProblemDetails <c>title</c>, or the HTTP reason phrase when the body had none.</summary>
    public string Title { get; } = title;

    /// <summary>ProblemDetails <c>detail</c>, if any.</summary>
    public string? Detail { get; } = detail;
}
