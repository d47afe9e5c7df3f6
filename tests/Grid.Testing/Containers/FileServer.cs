using System.Net;

namespace Grid.Testing.Containers;

/// <summary>A tiny HTTP server on 127.0.0.1 serving the files of one folder (for image archives); 404 for the rest.</summary>
public sealed class FileServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _folder;

    private FileServer(string folder, int port)
    {
        _folder = folder;
        Url = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = ServeAsync();
    }

    /// <summary>The server's base URL.</summary>
    public Uri Url { get; }

    /// <summary>Serves <paramref name="folder"/>.</summary>
    public static FileServer Start(string folder) => new(folder, FreePort.Get());

    /// <summary>The URL of <paramref name="file"/> (a file of the folder).</summary>
    public string UrlOf(string file) => new Uri(Url, Path.GetFileName(file)).ToString();

    /// <inheritdoc/>
    public void Dispose() => _listener.Close();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var file = Path.Combine(_folder, Path.GetFileName(context.Request.Url!.AbsolutePath));
            using var response = context.Response;
            if (!File.Exists(file))
            {
                response.StatusCode = 404;
                continue;
            }

            await using var stream = File.OpenRead(file);
            response.ContentLength64 = stream.Length;
            await stream.CopyToAsync(response.OutputStream);
        }
    }
}
