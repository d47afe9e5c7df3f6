using System.Globalization;
using System.Security;
using System.Text;

namespace Grid.Bench;

/// <summary>Two small hand-written SVG charts, so the report needs no plotting library or native graphics.</summary>
public static class Svg
{
    private const int Width = 640;
    private const int Height = 320;

    public static string Bars(string title, IReadOnlyList<(string Label, double Value)> bars)
    {
        var svg = Open(title);
        var max = Math.Max(1, bars.Max(b => b.Value));
        var slot = (Width - 100) / Math.Max(1, bars.Count);
        for (var i = 0; i < bars.Count; i++)
        {
            var h = (Height - 90) * bars[i].Value / max;
            var x = 70 + (i * slot) + (slot / 4);
            svg.Append(Invariant($"<rect x='{x}' y='{Height - 40 - h:0}' width='{slot / 2}' height='{h:0}' fill='#3b82f6'/>"));
            svg.Append(Invariant($"<text x='{x + (slot / 4)}' y='{Height - 22}' text-anchor='middle'>{Escape(bars[i].Label)} nodes</text>"));
            svg.Append(Invariant($"<text x='{x + (slot / 4)}' y='{Height - 46 - h:0}' text-anchor='middle'>{bars[i].Value:N0}/s</text>"));
        }

        return Close(svg);
    }

    public static string Timeline(string title, IReadOnlyList<(string Case, double Detected, double Moved)> rows)
    {
        var svg = Open(title);
        var max = Math.Max(0.001, rows.Max(r => r.Moved));
        var scale = (Width - 260) / max;
        for (var i = 0; i < rows.Count; i++)
        {
            var y = 60 + (i * 70);
            svg.Append(Invariant($"<text x='10' y='{y - 8}'>{Escape(rows[i].Case)}</text>"));
            svg.Append(Invariant($"<rect x='10' y='{y}' width='{rows[i].Detected * scale:0}' height='24' fill='#f59e0b'/>"));
            svg.Append(Invariant($"<rect x='{10 + (rows[i].Detected * scale):0}' y='{y}' width='{Math.Max(1, (rows[i].Moved - rows[i].Detected) * scale):0}' height='24' fill='#10b981'/>"));
            svg.Append(Invariant($"<text x='{14 + (rows[i].Moved * scale):0}' y='{y + 17}'>detected {rows[i].Detected:0.00} s, all moved {rows[i].Moved:0.00} s</text>"));
        }

        svg.Append(Invariant($"<text x='10' y='{Height - 12}'>orange: silent until declared down · green: moving reservations</text>"));
        return Close(svg);
    }

    private static StringBuilder Open(string title) =>
        new StringBuilder()
            .Append(Invariant($"<svg xmlns='http://www.w3.org/2000/svg' width='{Width}' height='{Height}' font-family='sans-serif' font-size='12'>"))
            .Append("<rect width='100%' height='100%' fill='white'/>")
            .Append(Invariant($"<text x='{Width / 2}' y='24' text-anchor='middle' font-size='15'>{Escape(title)}</text>"));

    private static string Close(StringBuilder svg) => svg.Append("</svg>").ToString();

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
