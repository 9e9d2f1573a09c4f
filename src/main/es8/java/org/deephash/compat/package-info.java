/**
 * What differs between the Elasticsearch lines the plugin builds for, in one place per line: this folder
 * ({@code src/main/es8}) holds the 8.19 / Lucene 9.12 side, {@code src/main/es9} the 9.1 / Lucene 10.2 side,
 * with the same classes and signatures. Everything else in the plugin is one source for both. The classes
 * named {@code Lucene*} or {@code Leaf*} use Lucene only; the others are Elasticsearch glue.
 */
package org.deephash.compat;
