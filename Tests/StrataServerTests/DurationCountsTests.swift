@testable import StrataServer
import Testing

/// The loops' own duration buckets, and the histogram text they become.
@Suite struct DurationCountsTests {
    @Test func aDurationOnABoundGoesInThatBucketAndTheTextIsCumulative() {
        var counts = DurationCounts()
        for micros: UInt32 in [0, 250, 251, 1_000, 5_000_000, 5_000_001, .max] { counts.record(micros: micros) }
        var more = DurationCounts()
        more.record(micros: 499)
        counts.add(more)
        #expect(counts.count == 8)
        let lines = counts.exposition(name: "d", help: "h").split(separator: "\n").map(String.init)
        #expect(lines.first == "# HELP d h")
        #expect(lines[1] == "# TYPE d histogram")
        #expect(lines.contains(#"d_bucket{le="0.00025"} 2"#))  // 0 and 250: le is "less than or equal"
        #expect(lines.contains(#"d_bucket{le="0.0005"} 4"#))  // 251 and 499
        #expect(lines.contains(#"d_bucket{le="0.001"} 5"#))
        #expect(lines.contains(#"d_bucket{le="1.0"} 5"#))
        #expect(lines.contains(#"d_bucket{le="5.0"} 6"#))
        #expect(lines.contains(#"d_bucket{le="+Inf"} 8"#))
        #expect(lines.contains("d_count 8"))
        let sum = Double(0 + 250 + 251 + 1_000 + 5_000_000 + 5_000_001 + UInt64(UInt32.max) + 499) / 1_000_000
        #expect(lines.contains("d_sum \(sum)"))
        #expect(lines.count == 2 + DurationCounts.labels.count + 3)
    }
}
