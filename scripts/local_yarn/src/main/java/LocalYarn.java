import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Properties;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.webapp.util.WebAppUtils;

/**
 * airflow-mesh's local YARN: one ResourceManager and one NodeManager (Hadoop's MiniYARNCluster) in this JVM.
 *
 * <p>Usage: {@code java LocalYarn <settings.properties> <hadoop conf dir>}. The settings (written by
 * scripts/local_yarn.py) are applied over YarnConfiguration's defaults. Once the RM has its ports and the NM
 * has registered, the cluster's configuration is written to {@code <conf dir>/yarn-site.xml} and
 * {@code core-site.xml}, then {@code ready.properties} (the RM web address) last, atomically: its presence
 * means "ready". The cluster stops when stdin closes (the launcher ended or died) or on SIGTERM.
 */
public final class LocalYarn {
  private LocalYarn() {}

  public static void main(String[] args) {
    try {
      run(args);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(2);  // non-daemon threads of a half-started cluster would otherwise keep the JVM alive
    }
  }

  private static void run(String[] args) throws Exception {
    Properties settings = new Properties();
    try (InputStream in = new FileInputStream(args[0])) {
      settings.load(in);
    }
    File confDir = new File(args[1]);
    YarnConfiguration conf = new YarnConfiguration();
    for (Map.Entry<Object, Object> e : settings.entrySet()) {
      conf.set((String) e.getKey(), (String) e.getValue());
    }
    MiniYARNCluster cluster = new MiniYARNCluster("airflow-mesh", 1, 1, 1);
    Runtime.getRuntime().addShutdownHook(new Thread(cluster::stop, "local-yarn-stop"));
    cluster.init(conf);
    cluster.start();
    Configuration live = cluster.getConfig();
    long deadline = System.nanoTime() + 60_000_000_000L;
    // MiniYARNCluster's start() may return before the RM wrote its bound port into the configuration.
    while (live.get(YarnConfiguration.RM_ADDRESS).endsWith(":0")) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the ResourceManager did not bind its port within 60 s");
      }
      Thread.sleep(100);
    }
    if (!cluster.waitForNodeManagersToConnect(60_000)) {
      throw new IllegalStateException("the NodeManager did not register with the ResourceManager within 60 s");
    }
    // The NM's own configuration says where it aggregates logs (MiniYARNCluster sets it on the NM only):
    // clients (`yarn logs`) must read them there.
    String remoteLogs = cluster.getNodeManager(0).getConfig().get(YarnConfiguration.NM_REMOTE_APP_LOG_DIR);
    live.set(YarnConfiguration.NM_REMOTE_APP_LOG_DIR, remoteLogs);
    writeXml(live, new File(confDir, "yarn-site.xml"));
    Configuration core = new Configuration(false);
    for (Map.Entry<Object, Object> e : settings.entrySet()) {
      String key = (String) e.getKey();
      if (key.startsWith("fs.") || key.startsWith("hadoop.")) {
        core.set(key, (String) e.getValue());
      }
    }
    writeXml(core, new File(confDir, "core-site.xml"));
    Properties ready = new Properties();
    ready.setProperty("rm.webapp", WebAppUtils.getRMWebAppURLWithoutScheme(live));
    ready.setProperty("rm.address", live.get(YarnConfiguration.RM_ADDRESS));
    ready.setProperty("work.dir", cluster.getTestWorkDir().getAbsolutePath());
    File tmp = new File(confDir, "ready.properties.tmp");
    try (Writer w = new OutputStreamWriter(new FileOutputStream(tmp), StandardCharsets.UTF_8)) {
      ready.store(w, "local YARN is up");
    }
    Files.move(tmp.toPath(), new File(confDir, "ready.properties").toPath(), StandardCopyOption.ATOMIC_MOVE);
    System.err.println("LOCAL_YARN_READY http://" + ready.getProperty("rm.webapp"));
    while (System.in.read() != -1) {
      // the launcher holds our stdin open for as long as the cluster should live
    }
    System.exit(0);  // runs the shutdown hook: cluster.stop() stops the NM, which kills its containers
  }

  private static void writeXml(Configuration c, File target) throws IOException {
    File tmp = new File(target.getPath() + ".tmp");
    try (OutputStream out = new FileOutputStream(tmp)) {
      c.writeXml(out);
    }
    Files.move(tmp.toPath(), target.toPath(), StandardCopyOption.ATOMIC_MOVE);
  }
}
